"""Testinfra: the CA and the TLS-offload proxy on the director (dr scenario, HTTPS)."""

testinfra_hosts = ["ansible://directors"]

# tls_vip of the scenario's inventory (testinfra reads the lab's inventory only).
TLS_VIP = "192.0.2.106"


def test_one_fwmark_service_for_80_and_443_with_persistence(host):
    rules = host.check_output("ipvsadm -Sn").splitlines()
    assert "-A -f 3 -s rr -p 600" in rules
    marking = host.check_output("nft list table inet lvs_cluster_fwmark")
    assert "tcp dport { 80, 443 }" in marking and 'comment "lvs.cluster fwmark 3 web-http-https"' in marking


def test_the_ca_certificate_can_only_sign(host):
    certificate = host.check_output("openssl x509 -in /etc/ssl/lvs-cluster-ca/ca.crt -noout -text")
    assert "CA:TRUE" in certificate
    assert "Certificate Sign, CRL Sign" in certificate
    assert host.file("/etc/ssl/lvs-cluster-ca/ca.crt").mode == 0o644


def test_nginx_listens_on_the_directors_address_not_on_the_vip(host):
    variables = host.ansible.get_variables()
    assert host.socket("tcp://%s:443" % variables["lab_ipv4"]).is_listening
    assert not host.socket("tcp://0.0.0.0:443").is_listening
    assert not host.socket("tcp://%s:443" % TLS_VIP).is_listening
    assert host.service("nginx").is_enabled


def test_the_proxy_certificate_names_the_proxy(host):
    names = host.check_output("openssl x509 -in /etc/ssl/certs/lvs-cluster-offload.crt -noout -ext subjectAltName")
    assert "DNS:proxy.lab.example" in names
