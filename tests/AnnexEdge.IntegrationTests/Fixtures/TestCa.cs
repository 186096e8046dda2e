using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.IntegrationTests.Fixtures;

/// <summary>
/// A test CA for HTTPS edges that real clients verify: git (curl) trusts its file (<c>GIT_SSL_CAINFO</c>), git-annex
/// (Haskell's x509-system) the directory it is alone in (<c>SYSTEM_CERTIFICATE_PATH</c>).
/// </summary>
public static class TestCa
{
    /// <summary>A test CA (its PEM alone in a directory) and a certificate it issued for 127.0.0.1, as PEM files.</summary>
    public static (string Ca, string Pem, string Key) Write(TempDirectory files)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=AnnexEdge test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var leaf = request.Create(ca, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(29), RandomNumberGenerator.GetBytes(16));

        Directory.CreateDirectory(files.Combine("ca"));
        File.WriteAllText(files.Combine("ca", "ca.pem"), ca.ExportCertificatePem());
        File.WriteAllText(files.Combine("edge.pem"), leaf.ExportCertificatePem());
        File.WriteAllText(files.Combine("edge.key"), key.ExportPkcs8PrivateKeyPem());
        return (files.Combine("ca", "ca.pem"), files.Combine("edge.pem"), files.Combine("edge.key"));
    }
}
