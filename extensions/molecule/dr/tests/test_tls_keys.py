"""Testinfra: every key of the dr scenario is root's alone, and the CA key exists only on the CA host."""

testinfra_hosts = ["ansible://all"]

CA_HOST = "director"  # ssl_ca_host's default: the first director
CA_DIR = "/etc/ssl/lvs-cluster-ca"
# The keys lvs.cluster.ssl_ca leaves on each host (generated there, never copied).
KEYS = {
    "director": [CA_DIR + "/ca.key", "/etc/ssl/private/lvs-cluster-offload.key"],
    "rs1": ["/etc/ssl/private/lvs-cluster.key"],
    "rs2": ["/etc/ssl/private/lvs-cluster.key"],
    "client": [],
}
# Where a copied key could be; each file holding a PEM private key is compared with the CA key by public key.
SEARCHED = "/etc /root /home /srv /opt /usr/local /var/www /var/tmp /tmp"
_ca_public_key = {}


def _name(host):
    return host.backend.get_hostname()


def _ca_fingerprint(host):
    """SHA-256 of the CA's public key, read on the CA host."""
    if "value" not in _ca_public_key:
        ca_host = host.get_host("ansible://" + CA_HOST, ansible_inventory=host.backend.ansible_inventory)
        _ca_public_key["value"] = ca_host.check_output(
            "openssl pkey -in %s/ca.key -pubout -passin pass: | sha256sum" % CA_DIR
        ).split()[0]
    return _ca_public_key["value"]


def test_keys_are_readable_by_root_only(host):
    for path in KEYS[_name(host)]:
        key = host.file(path)
        assert key.is_file, path
        assert (key.user, key.group, key.mode) == ("root", "root", 0o600), path


def test_the_ca_directory_is_root_only(host):
    directory = host.file(CA_DIR)
    if _name(host) == CA_HOST:
        assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
        certificate = host.check_output("openssl x509 -in %s/ca.crt -noout -text" % CA_DIR)
        assert "CA:TRUE" in certificate and "Certificate Sign" in certificate
    else:
        assert not directory.exists


def test_the_ca_key_exists_only_on_the_ca_host(host):
    # Every file under SEARCHED holding a PEM private key, with the SHA-256 of its public key (OpenSSH keys are
    # no PEM keys: openssl reads nothing and they get the hash of nothing).
    listing = host.check_output(
        "for f in $(grep -rlsI -e '-----BEGIN .*PRIVATE KEY-----' %s); do "
        "echo \"$f $(openssl pkey -in \"$f\" -pubout -passin pass: 2>/dev/null | sha256sum | cut -d' ' -f1)\"; "
        "done" % SEARCHED
    )
    copies = [line.split()[0] for line in listing.splitlines() if line.split()[-1] == _ca_fingerprint(host)]
    assert copies == ([CA_DIR + "/ca.key"] if _name(host) == CA_HOST else [])
