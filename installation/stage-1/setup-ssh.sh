#!/bin/sh
# Configure the SSH server when the image has one: listen port and password logins for
# the users created by setup-users.sh. Host keys are made at first start, not baked in.
#
#   setup-ssh.sh PORT
set -eu

port=$1
if [ ! -x /usr/sbin/sshd ]; then
    echo "setup-ssh: no sshd in the image; skipping" >&2
    exit 0
fi
mkdir -p /etc/ssh/sshd_config.d /run/sshd
cat >/etc/ssh/sshd_config.d/modelbench.conf <<CONF
Port $port
PasswordAuthentication yes
PermitRootLogin no
CONF
rm -f /etc/ssh/ssh_host_*
echo "setup-ssh: sshd listens on $port"
