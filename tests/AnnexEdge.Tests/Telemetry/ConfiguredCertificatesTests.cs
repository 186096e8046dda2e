using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Configuration;

namespace AnnexEdge.Tests.Telemetry;

public sealed class ConfiguredCertificatesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("configured-certs").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void The_default_certificate_and_each_endpoints_are_read_with_their_names_and_expiry_from_pem_and_pkcs12()
    {
        var notAfter = DateTimeOffset.UtcNow.AddDays(20);
        var pem = Create("edge.example.org", notAfter);
        File.WriteAllText(Path.Combine(_dir, "edge.pem"), pem.ExportCertificatePem());
        var pfx = Create("other.example.org", notAfter.AddDays(5));
        File.WriteAllBytes(Path.Combine(_dir, "other.pfx"), pfx.Export(X509ContentType.Pkcs12, "pw"));

        var certificates = ConfiguredCertificates.Load(Configuration(new()
        {
            ["Kestrel:Certificates:Default:Path"] = Path.Combine(_dir, "edge.pem"),
            ["Kestrel:Certificates:Default:KeyPath"] = Path.Combine(_dir, "edge.key"),
            ["Kestrel:Endpoints:Https:Url"] = "https://0.0.0.0:443",
            ["Kestrel:Endpoints:Https:Certificate:Path"] = Path.Combine(_dir, "other.pfx"),
            ["Kestrel:Endpoints:Https:Certificate:Password"] = "pw",
            ["Kestrel:Endpoints:Http:Url"] = "http://0.0.0.0:80",
        })).All;

        Assert.Equal(2, certificates.Count);
        Assert.Equal(["edge.example.org", "127.0.0.1"], certificates[0].Domains);
        Assert.Equal(new DateTimeOffset(pem.NotAfter.ToUniversalTime()), certificates[0].NotAfter);
        Assert.Equal("Kestrel:Endpoints:Https:Certificate", certificates[1].Source);
        Assert.Equal(["other.example.org", "127.0.0.1"], certificates[1].Domains);
    }

    [Fact]
    public void A_file_that_cannot_be_read_is_left_out_for_Kestrel_to_report()
    {
        File.WriteAllText(Path.Combine(_dir, "broken.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");

        var certificates = ConfiguredCertificates.Load(Configuration(new()
        {
            ["Kestrel:Certificates:Default:Path"] = Path.Combine(_dir, "broken.pem"),
            ["Kestrel:Endpoints:Https:Certificate:Path"] = Path.Combine(_dir, "missing.pem"),
        }));

        Assert.Empty(certificates.All);
    }

    [Fact]
    public void No_certificate_files_means_none()
    {
        Assert.Empty(ConfiguredCertificates.Load(Configuration(new() { ["Kestrel:Endpoints:Http:Url"] = "http://0.0.0.0:80" })).All);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private static X509Certificate2 Create(string name, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(notAfter.AddDays(-30), notAfter);
    }
}
