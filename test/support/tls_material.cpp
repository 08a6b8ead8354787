#include "tls_material.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

namespace asiocurl::test {
namespace {

template <auto Free>
struct deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using ext_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;

[[noreturn]] void fail(const char* what) {
    char buf[256] = "unknown error";
    if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buf, sizeof buf);
    throw std::runtime_error(std::string("tls_material: ") + what + ": " + buf);
}

template <class T>
T* check(T* p, const char* what) {
    if (!p) fail(what);
    return p;
}

void check(int rc, const char* what) {
    if (rc <= 0) fail(what);
}

pkey_ptr make_key() {
    return pkey_ptr(check(EVP_EC_gen("P-256"), "EVP_EC_gen"));
}

struct cert_spec {
    const char* cn;
    X509* issuer = nullptr;  // nullptr: self-signed
    EVP_PKEY* issuer_key = nullptr;
    const char* basic_constraints = "critical,CA:FALSE";
    const char* key_usage = "critical,digitalSignature";
    const char* ext_key_usage = nullptr;
    std::string subject_alt_name = {};
    long valid_from = -3600;       // seconds from now
    long valid_until = 24 * 3600;  // seconds from now
};

void add_ext(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
    ext_ptr ext(check(X509V3_EXT_conf_nid(nullptr, ctx, nid, value), "X509V3_EXT_conf_nid"));
    check(X509_add_ext(cert, ext.get(), -1), "X509_add_ext");
}

x509_ptr make_cert(EVP_PKEY* key, const cert_spec& spec) {
    x509_ptr cert(check(X509_new(), "X509_new"));
    X509* c = cert.get();
    check(X509_set_version(c, X509_VERSION_3), "X509_set_version");

    // Random serials keep certificates from different runs distinguishable.
    bn_ptr serial(check(BN_new(), "BN_new"));
    check(BN_rand(serial.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");
    check(BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(c)), "BN_to_ASN1_INTEGER");

    check(X509_gmtime_adj(X509_getm_notBefore(c), spec.valid_from) != nullptr, "notBefore");
    check(X509_gmtime_adj(X509_getm_notAfter(c), spec.valid_until) != nullptr, "notAfter");

    X509_NAME* name = X509_get_subject_name(c);
    auto add_entry = [name](const char* field, const char* value) {
        check(X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                         reinterpret_cast<const unsigned char*>(value), -1, -1, 0),
              "X509_NAME_add_entry_by_txt");
    };
    add_entry("O", "asiocurl tests");
    add_entry("CN", spec.cn);
    X509* issuer = spec.issuer ? spec.issuer : c;
    check(X509_set_issuer_name(c, X509_get_subject_name(issuer)), "X509_set_issuer_name");
    check(X509_set_pubkey(c, key), "X509_set_pubkey");

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, c, nullptr, nullptr, 0);
    add_ext(c, &ctx, NID_basic_constraints, spec.basic_constraints);
    add_ext(c, &ctx, NID_key_usage, spec.key_usage);
    add_ext(c, &ctx, NID_subject_key_identifier, "hash");
    if (spec.issuer) add_ext(c, &ctx, NID_authority_key_identifier, "keyid:always");
    if (spec.ext_key_usage) add_ext(c, &ctx, NID_ext_key_usage, spec.ext_key_usage);
    if (!spec.subject_alt_name.empty()) add_ext(c, &ctx, NID_subject_alt_name, spec.subject_alt_name.c_str());

    check(X509_sign(c, spec.issuer_key ? spec.issuer_key : key, EVP_sha256()), "X509_sign");
    return cert;
}

x509_ptr make_ca(EVP_PKEY* key, const char* cn) {
    return make_cert(
        key,
        {.cn = cn, .basic_constraints = "critical,CA:TRUE", .key_usage = "critical,keyCertSign,cRLSign"});
}

void write_cert(const std::string& path, X509* cert) {
    bio_ptr bio(check(BIO_new_file(path.c_str(), "w"), "BIO_new_file"));
    check(PEM_write_bio_X509(bio.get(), cert), "PEM_write_bio_X509");
}

void write_key(const std::string& path, EVP_PKEY* key) {
    bio_ptr bio(check(BIO_new_file(path.c_str(), "w"), "BIO_new_file"));
    check(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
          "PEM_write_bio_PrivateKey");
}

std::string server_alt_names() {
    // Names the tests connect to: never the machine's own host name (no test resolves it).
    return "DNS:localhost,IP:127.0.0.1,IP:::1";
}

void fill(tls_material& m) {
    m.ca_file = m.dir + "/ca.pem";
    m.cert_file = m.dir + "/server.pem";
    m.key_file = m.dir + "/server.key";
    m.other_ca_file = m.dir + "/other-ca.pem";
    m.client_cert_file = m.dir + "/client.pem";
    m.client_key_file = m.dir + "/client.key";
    m.wrong_host_cert_file = m.dir + "/wrong-host.pem";
    m.expired_cert_file = m.dir + "/expired.pem";
    m.self_signed_cert_file = m.dir + "/self-signed.pem";

    auto ca_key = make_key();
    auto ca = make_ca(ca_key.get(), "asiocurl test CA");
    write_cert(m.ca_file, ca.get());

    auto other_key = make_key();
    write_cert(m.other_ca_file, make_ca(other_key.get(), "asiocurl unrelated CA").get());

    auto server_key = make_key();
    auto server = make_cert(server_key.get(), {.cn = "localhost",
                                               .issuer = ca.get(),
                                               .issuer_key = ca_key.get(),
                                               .ext_key_usage = "serverAuth",
                                               .subject_alt_name = server_alt_names()});
    write_cert(m.cert_file, server.get());
    write_key(m.key_file, server_key.get());

    // Each bad certificate differs from the good one in one respect (names, dates, issuer), so a client that
    // refuses it can only be refusing it for that.
    write_cert(m.wrong_host_cert_file, make_cert(server_key.get(), {.cn = "wrong.example",
                                                                    .issuer = ca.get(),
                                                                    .issuer_key = ca_key.get(),
                                                                    .ext_key_usage = "serverAuth",
                                                                    .subject_alt_name = "DNS:wrong.example"})
                                           .get());
    write_cert(m.expired_cert_file, make_cert(server_key.get(), {.cn = "localhost",
                                                                 .issuer = ca.get(),
                                                                 .issuer_key = ca_key.get(),
                                                                 .ext_key_usage = "serverAuth",
                                                                 .subject_alt_name = server_alt_names(),
                                                                 .valid_from = -2 * 24 * 3600,
                                                                 .valid_until = -24 * 3600})
                                        .get());
    write_cert(m.self_signed_cert_file, make_cert(server_key.get(), {.cn = "localhost",
                                                                     .ext_key_usage = "serverAuth",
                                                                     .subject_alt_name = server_alt_names()})
                                            .get());

    auto client_key = make_key();
    auto client = make_cert(client_key.get(), {.cn = "asiocurl test client",
                                               .issuer = ca.get(),
                                               .issuer_key = ca_key.get(),
                                               .ext_key_usage = "clientAuth"});
    write_cert(m.client_cert_file, client.get());
    write_key(m.client_key_file, client_key.get());
}

tls_material generate() {
    tls_material m;
    std::string dir_template = "/tmp/asiocurl-tls-XXXXXX";
    if (!mkdtemp(dir_template.data())) throw std::runtime_error("tls_material: mkdtemp failed");
    m.dir = dir_template;
    try {
        fill(m);
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove_all(m.dir, ec);
        throw;
    }
    return m;
}

struct material_holder {
    tls_material material = generate();
    pid_t owner = getpid();

    material_holder() = default;
    material_holder(const material_holder&) = delete;
    material_holder& operator=(const material_holder&) = delete;
    ~material_holder() {
        // A forked child exiting must not delete the files its parent still uses.
        if (getpid() != owner) return;
        std::error_code ec;
        std::filesystem::remove_all(material.dir, ec);
    }
};

}  // namespace

const tls_material& tls() {
    static const material_holder holder;
    return holder.material;
}

}  // namespace asiocurl::test
