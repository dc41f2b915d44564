from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.user_read import UserRead


T = TypeVar("T", bound="LoginResponse")


@_attrs_define
class LoginResponse:
    user: UserRead
    csrf_token: str
    token: str
    expires_in: int
    tls_fingerprint: str

    def to_dict(self) -> dict[str, Any]:
        user = self.user.to_dict()

        csrf_token = self.csrf_token

        token = self.token

        expires_in = self.expires_in

        tls_fingerprint = self.tls_fingerprint

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "user": user,
                "csrfToken": csrf_token,
                "token": token,
                "expiresIn": expires_in,
                "tlsFingerprint": tls_fingerprint,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.user_read import UserRead  # noqa: PLC0415

        d = dict(src_dict)
        user = UserRead.from_dict(d.pop("user"))

        csrf_token = d.pop("csrfToken")

        token = d.pop("token")

        expires_in = d.pop("expiresIn")

        tls_fingerprint = d.pop("tlsFingerprint")

        login_response = cls(
            user=user,
            csrf_token=csrf_token,
            token=token,
            expires_in=expires_in,
            tls_fingerprint=tls_fingerprint,
        )

        return login_response
