#!/usr/bin/env bash
# Serve our site instead of Debian's default one, and start nginx now and at every boot.
set -euo pipefail

rm -f /etc/nginx/sites-enabled/default
systemctl enable nginx
systemctl restart nginx
