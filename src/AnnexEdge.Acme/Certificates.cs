using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Acme;

/// <summary>The certificates and requests the edge makes itself: CSRs, tls-alpn-01 answers, the self-signed fallback.</summary>
public static class Certificates
{
    /// <summary>id-pe-acmeIdentifier (RFC 8737 §6.1).</summary>
    public const string AcmeIdentifierOid = "1.3.6.1.5.5.7.1.31";

    /// <summary>A PKCS#10 request (DER) for all <paramref name="domains"/> as SANs, the first also as CN.</summary>
    public static byte[] CreateCsr(ECDsa certificateKey, IReadOnlyList<string> domains)
    {
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + domains[0]), certificateKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(SubjectAlternativeNames(domains));
        return request.CreateSigningRequest();
    }

    /// <summary>
    /// The tls-alpn-01 answer for <paramref name="domain"/>: self-signed, the domain as only SAN, and the critical
    /// acmeIdentifier extension holding SHA-256 of the key authorization as an OCTET STRING (RFC 8737 §3).
    /// </summary>
    public static X509Certificate2 CreateTlsAlpnCertificate(string domain, byte[] keyAuthorizationDigest, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + domain), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(SubjectAlternativeNames([domain]));
        var value = new AsnWriter(AsnEncodingRules.DER);
        value.WriteOctetString(keyAuthorizationDigest);
        request.CertificateExtensions.Add(new X509Extension(AcmeIdentifierOid, value.Encode(), critical: true));
        return Exportable(request.CreateSelfSigned(now.AddDays(-1), now.AddDays(7)));
    }

    /// <summary>What HTTPS serves before the first ACME certificate exists: browsers refuse it, ACME servers do not look.</summary>
    public static X509Certificate2 CreateSelfSigned(IReadOnlyList<string> domains, DateTimeOffset now)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + (domains.Count > 0 ? domains[0] : "annexedge")), key, HashAlgorithmName.SHA256);
        if (domains.Count > 0)
        {
            request.CertificateExtensions.Add(SubjectAlternativeNames(domains));
        }

        return Exportable(request.CreateSelfSigned(now.AddDays(-1), now.AddDays(30)));
    }

    /// <summary>The leaf of a PEM chain with its key, plus the intermediates Kestrel sends along.</summary>
    public static (X509Certificate2 Leaf, X509Certificate2Collection Chain) LoadChain(string chainPem, string keyPem)
    {
        var all = new X509Certificate2Collection();
        all.ImportFromPem(chainPem);
        if (all.Count == 0)
        {
            throw new CryptographicException("no certificate in the PEM chain");
        }

        using var leafOnly = all[0];
        var leaf = Exportable(X509Certificate2.CreateFromPem(leafOnly.ExportCertificatePem(), keyPem));
        var chain = new X509Certificate2Collection();
        for (var i = 1; i < all.Count; i++)
        {
            chain.Add(all[i]);
        }

        return (leaf, chain);
    }

    public static IReadOnlyList<string> DnsNames(X509Certificate2 certificate) =>
        certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>().SelectMany(san => san.EnumerateDnsNames()).ToList();

    private static X509Extension SubjectAlternativeNames(IEnumerable<string> domains)
    {
        var san = new SubjectAlternativeNameBuilder();
        foreach (var domain in domains)
        {
            san.AddDnsName(domain);
        }

        return san.Build();
    }

    /// <summary>
    /// Ephemeral-key certificates cannot be used by SslStream on every platform; a PKCS#12 round trip makes the key
    /// persistable in memory.
    /// </summary>
    private static X509Certificate2 Exportable(X509Certificate2 certificate)
    {
        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
        }
    }
}
