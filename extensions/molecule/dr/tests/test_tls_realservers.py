"""Testinfra: HTTPS on the real servers (dr scenario, HTTPS)."""

testinfra_hosts = ["ansible://realservers"]

CERTIFICATE = "/etc/ssl/certs/lvs-cluster.crt"
# tls_vip of the scenario's inventory (testinfra reads the lab's inventory only).
TLS_VIP = "192.0.2.106"


def test_the_certificate_names_the_service_and_the_vip(host):
    names = host.check_output("openssl x509 -in %s -noout -ext subjectAltName" % CERTIFICATE)
    assert "DNS:www.lab.example" in names
    assert "IP Address:%s" % TLS_VIP in names
    assert "CN = lvs.cluster CA" in host.check_output("openssl x509 -in %s -noout -issuer" % CERTIFICATE)
    certificate = host.file(CERTIFICATE)
    assert (certificate.user, certificate.mode) == ("root", 0o644)


def test_apache_serves_http_and_https_with_tls_12_or_later(host):
    for port in (80, 443):
        assert host.socket("tcp://0.0.0.0:%d" % port).is_listening or host.socket("tcp://:::%d" % port).is_listening
    site = host.file("/etc/apache2/sites-enabled/lvs-cluster-ssl.conf").content_string
    assert "ServerName www.lab.example" in site
    assert "SSLProtocol -all +TLSv1.2 +TLSv1.3" in site
    assert host.service("apache2").is_enabled
