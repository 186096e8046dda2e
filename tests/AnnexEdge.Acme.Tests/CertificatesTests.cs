using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Acme.Tests;

public sealed class CertificatesTests
{
    [Fact]
    public void Csr_names_every_domain_as_SAN_and_is_signed_by_the_certificate_key()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = Certificates.CreateCsr(key, ["edge.example.org", "annex.example.org"]);

        var request = CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.UnsafeLoadCertificateExtensions);
        Assert.Equal("CN=edge.example.org", request.SubjectName.Name);
        var san = Assert.Single(request.CertificateExtensions.OfType<X509SubjectAlternativeNameExtension>());
        Assert.Equal(["edge.example.org", "annex.example.org"], san.EnumerateDnsNames());
        Assert.Equal(key.ExportSubjectPublicKeyInfo(), request.PublicKey.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void Tls_alpn_certificate_holds_the_critical_acmeIdentifier_with_the_digest_as_octet_string()
    {
        var digest = SHA256.HashData("token.thumbprint"u8);
        using var certificate = Certificates.CreateTlsAlpnCertificate("edge.example.org", digest, DateTimeOffset.UtcNow);

        var extension = Assert.Single(certificate.Extensions.Cast<X509Extension>(), e => e.Oid?.Value == "1.3.6.1.5.5.7.1.31");
        Assert.True(extension.Critical);
        Assert.Equal([0x04, 0x20, .. digest], extension.RawData);
        Assert.Equal(["edge.example.org"], Certificates.DnsNames(certificate));
        Assert.True(certificate.HasPrivateKey);
    }

    [Fact]
    public void Self_signed_fallback_covers_the_domains_and_has_its_key()
    {
        using var certificate = Certificates.CreateSelfSigned(["a.example.org", "b.example.org"], DateTimeOffset.UtcNow);

        Assert.Equal(["a.example.org", "b.example.org"], Certificates.DnsNames(certificate));
        Assert.True(certificate.HasPrivateKey);
    }
}
