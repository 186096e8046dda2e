using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace AnnexEdge.Telemetry;

/// <summary>One certificate file named in Kestrel's configuration, as loaded at start.</summary>
internal sealed record ConfiguredCertificate(string Source, IReadOnlyList<string> Domains, string Subject, DateTimeOffset NotAfter);

/// <summary>
/// The certificates an operator gave Kestrel as files (<c>Kestrel:Certificates:Default</c> and each
/// <c>Kestrel:Endpoints:NAME:Certificate</c>), read once at start as Kestrel reads them: it serves them until a
/// restart, so their expiry belongs in metrics and on the status page as much as an ACME certificate's.
/// </summary>
internal sealed class ConfiguredCertificates(IReadOnlyList<ConfiguredCertificate> all)
{
    public IReadOnlyList<ConfiguredCertificate> All { get; } = all;

    public static ConfiguredCertificates Load(IConfiguration configuration)
    {
        var kestrel = configuration.GetSection("Kestrel");
        var sections = new List<(string Source, IConfigurationSection Section)> { ("Kestrel:Certificates:Default", kestrel.GetSection("Certificates:Default")) };
        sections.AddRange(kestrel.GetSection("Endpoints").GetChildren()
            .Select(e => ($"Kestrel:Endpoints:{e.Key}:Certificate", e.GetSection("Certificate"))));
        var all = new List<ConfiguredCertificate>();
        foreach (var (source, section) in sections)
        {
            if (section["Path"] is not { Length: > 0 } path)
            {
                continue;
            }

            try
            {
                // A PEM file, or PKCS#12 when no KeyPath is given (as Kestrel reads them).
                using var certificate = section["KeyPath"] is null && !IsPem(path)
                    ? X509CertificateLoader.LoadPkcs12FromFile(path, section["Password"])
                    : X509CertificateLoader.LoadCertificateFromFile(path);
                all.Add(new ConfiguredCertificate(
                    source, DomainsOf(certificate), certificate.Subject, new DateTimeOffset(certificate.NotAfter.ToUniversalTime())));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                // Kestrel reports a file it cannot use when it binds; this is only the view of it.
            }
        }

        return new ConfiguredCertificates(all);
    }

    private static bool IsPem(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> start = stackalloc byte[11];
        return file.Read(start) == start.Length && start.SequenceEqual("-----BEGIN "u8);
    }

    /// <summary>The DNS names and addresses it is for, or its common name when it lists none.</summary>
    private static string[] DomainsOf(X509Certificate2 certificate)
    {
        var names = certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>()
            .SelectMany(e => e.EnumerateDnsNames().Concat(e.EnumerateIPAddresses().Select(a => a.ToString())))
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .ToArray();
        return names.Length > 0 ? names : [certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false)];
    }
}
