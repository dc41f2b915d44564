"""Contains all the data models used in inputs/outputs"""

from .action_result import ActionResult
from .action_result_action import ActionResultAction
from .adopt_request import AdoptRequest
from .apt_package import AptPackage
from .audit_page import AuditPage
from .audit_read import AuditRead
from .audit_read_detail import AuditReadDetail
from .audit_read_outcome import AuditReadOutcome
from .bridge import Bridge
from .bucket_create import BucketCreate
from .bucket_packages_add import BucketPackagesAdd
from .bucket_packages_remove import BucketPackagesRemove
from .bucket_page import BucketPage
from .bucket_read import BucketRead
from .bucket_summary import BucketSummary
from .bucket_update import BucketUpdate
from .build_preflight import BuildPreflight
from .build_state import BuildState
from .connection_test import ConnectionTest
from .container_create import ContainerCreate
from .container_detail import ContainerDetail
from .container_detail_config_type_0 import ContainerDetailConfigType0
from .container_drift import ContainerDrift
from .container_list import ContainerList
from .container_summary import ContainerSummary
from .create_accepted import CreateAccepted
from .delete_accepted import DeleteAccepted
from .dependency_check import DependencyCheck
from .dependency_problem import DependencyProblem
from .discovery_error_read import DiscoveryErrorRead
from .discovery_result import DiscoveryResult
from .event_envelope import EventEnvelope
from .event_envelope_metadata import EventEnvelopeMetadata
from .event_page import EventPage
from .event_type import EventType
from .field_error import FieldError
from .file_input import FileInput
from .file_policy import FilePolicy
from .file_read import FileRead
from .health import Health
from .lifecycle import Lifecycle
from .list_templates_sort import ListTemplatesSort
from .live_status import LiveStatus
from .login_request import LoginRequest
from .login_response import LoginResponse
from .me import Me
from .next_vmid import NextVmid
from .node_create import NodeCreate
from .node_error import NodeError
from .node_read import NodeRead
from .node_update import NodeUpdate
from .npm_package import NpmPackage
from .os_template import OsTemplate
from .package_read import PackageRead
from .package_read_manager import PackageReadManager
from .phase import Phase
from .pip_package import PipPackage
from .preflight_problem import PreflightProblem
from .preflight_problem_code import PreflightProblemCode
from .preflight_result import PreflightResult
from .problem import Problem
from .readiness import Readiness
from .reconcile_result import ReconcileResult
from .repin_request import RepinRequest
from .repin_response import RepinResponse
from .script_input import ScriptInput
from .script_read import ScriptRead
from .service_credentials import ServiceCredentials
from .service_credentials_values import ServiceCredentialsValues
from .service_list import ServiceList
from .service_listener import ServiceListener
from .service_logs import ServiceLogs
from .service_read import ServiceRead
from .service_read_status import ServiceReadStatus
from .storage import Storage
from .stream_ticket import StreamTicket
from .template_create import TemplateCreate
from .template_page import TemplatePage
from .template_read import TemplateRead
from .template_source import TemplateSource
from .template_summary import TemplateSummary
from .template_update import TemplateUpdate
from .unmanaged_guest_read import UnmanagedGuestRead
from .unmanaged_guest_read_type import UnmanagedGuestReadType
from .user_read import UserRead
from .vmid_check import VmidCheck
from .vmid_check_status import VmidCheckStatus
from .vmid_refresh import VmidRefresh

__all__ = (
    "ActionResult",
    "ActionResultAction",
    "AdoptRequest",
    "AptPackage",
    "AuditPage",
    "AuditRead",
    "AuditReadDetail",
    "AuditReadOutcome",
    "Bridge",
    "BucketCreate",
    "BucketPackagesAdd",
    "BucketPackagesRemove",
    "BucketPage",
    "BucketRead",
    "BucketSummary",
    "BucketUpdate",
    "BuildPreflight",
    "BuildState",
    "ConnectionTest",
    "ContainerCreate",
    "ContainerDetail",
    "ContainerDetailConfigType0",
    "ContainerDrift",
    "ContainerList",
    "ContainerSummary",
    "CreateAccepted",
    "DeleteAccepted",
    "DependencyCheck",
    "DependencyProblem",
    "DiscoveryErrorRead",
    "DiscoveryResult",
    "EventEnvelope",
    "EventEnvelopeMetadata",
    "EventPage",
    "EventType",
    "FieldError",
    "FileInput",
    "FilePolicy",
    "FileRead",
    "Health",
    "Lifecycle",
    "ListTemplatesSort",
    "LiveStatus",
    "LoginRequest",
    "LoginResponse",
    "Me",
    "NextVmid",
    "NodeCreate",
    "NodeError",
    "NodeRead",
    "NodeUpdate",
    "NpmPackage",
    "OsTemplate",
    "PackageRead",
    "PackageReadManager",
    "Phase",
    "PipPackage",
    "PreflightProblem",
    "PreflightProblemCode",
    "PreflightResult",
    "Problem",
    "Readiness",
    "ReconcileResult",
    "RepinRequest",
    "RepinResponse",
    "ScriptInput",
    "ScriptRead",
    "ServiceCredentials",
    "ServiceCredentialsValues",
    "ServiceList",
    "ServiceListener",
    "ServiceLogs",
    "ServiceRead",
    "ServiceReadStatus",
    "Storage",
    "StreamTicket",
    "TemplateCreate",
    "TemplatePage",
    "TemplateRead",
    "TemplateSource",
    "TemplateSummary",
    "TemplateUpdate",
    "UnmanagedGuestRead",
    "UnmanagedGuestReadType",
    "UserRead",
    "VmidCheck",
    "VmidCheckStatus",
    "VmidRefresh",
)
