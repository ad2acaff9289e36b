"""Testinfra: the client trusts the cluster's CA (dr scenario, HTTPS)."""

testinfra_hosts = ["ansible://clients"]

ANCHOR = "/usr/local/share/ca-certificates/lvs-cluster-ca.crt"


def test_the_ca_certificate_is_in_the_system_trust_store(host):
    anchor = host.file(ANCHOR)
    assert (anchor.user, anchor.group, anchor.mode) == ("root", "root", 0o644)
    assert "CA:TRUE" in host.check_output("openssl x509 -in %s -noout -ext basicConstraints" % ANCHOR)
    assert anchor.content_string.strip() in host.file("/etc/ssl/certs/ca-certificates.crt").content_string
