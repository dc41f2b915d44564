#!/usr/bin/env bash
# Generate the password of the /status page and record it as the nginx service's credential.
set -euo pipefail

if [[ ! -s /etc/nginx/infrahaus.htpasswd ]]; then
    password="$(head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-24)"
    umask 027
    printf 'admin:{PLAIN}%s\n' "$password" > /etc/nginx/infrahaus.htpasswd
    chgrp www-data /etc/nginx/infrahaus.htpasswd 2>/dev/null || chmod 0644 /etc/nginx/infrahaus.htpasswd
    # Helper library of the build: writes /etc/infrahaus/credentials/nginx
    save_credential nginx username admin
    save_credential nginx password "$password"
fi
