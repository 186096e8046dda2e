using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Acme;

/// <summary>With ACME off, Kestrel's own certificate settings (PEM files) still serve HTTPS.</summary>
public sealed class StaticCertificateTests
{
    [Fact]
    public async Task Kestrel_default_certificate_files_serve_HTTPS_on_urls_endpoints_with_ACME_off()
    {
        using var files = new TempDirectory("static-cert");
        var (certificatePem, certificate) = WriteSelfSigned(files);
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        var configuration = new JsonObject
        {
            ["AnnexEdge"] = AcmeEdge.PlaceholderSection(),
            ["Kestrel"] = new JsonObject
            {
                ["Certificates"] = new JsonObject { ["Default"] = CertificateFiles(files) },
            },
        };

        await using var edge = await AcmeEdge.StartAsync(configuration, $"http://127.0.0.1:{httpPort};https://127.0.0.1:{httpsPort}", httpPort, httpsPort, AcmeEdge.DefaultDomain);

        await AssertServesAsync(edge, certificatePem, certificate);
    }

    [Fact]
    public async Task Kestrel_endpoint_certificate_files_serve_HTTPS_with_ACME_off()
    {
        using var files = new TempDirectory("static-cert");
        var (certificatePem, certificate) = WriteSelfSigned(files);
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        var configuration = new JsonObject
        {
            ["AnnexEdge"] = AcmeEdge.PlaceholderSection(),
            ["Kestrel"] = new JsonObject
            {
                ["Endpoints"] = new JsonObject
                {
                    ["Http"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{httpPort}" },
                    ["Https"] = new JsonObject { ["Url"] = $"https://127.0.0.1:{httpsPort}", ["Certificate"] = CertificateFiles(files) },
                },
            },
        };

        await using var edge = await AcmeEdge.StartAsync(configuration, urls: null, httpPort, httpsPort, AcmeEdge.DefaultDomain);

        await AssertServesAsync(edge, certificatePem, certificate);
    }

    private static async Task AssertServesAsync(AcmeEdge edge, string certificatePem, X509Certificate2 certificate)
    {
        using var client = edge.VerifyingClient(certificatePem);
        using var health = await client.GetAsync("/_annexedge/health", TestContext.Current.CancellationToken);
        using var served = await edge.VerifiedCertificateAsync(certificatePem);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(certificate.Thumbprint, served.Thumbprint);
        Assert.DoesNotContain("ACME", edge.Logs);
        // Limits:ReleaseIdleTlsBuffers found this runtime's OpenSSL handles at the first HTTPS request.
        await edge.LogLineAsync("Idle TLS connections give their OpenSSL record buffers back");

        // An operator's certificate expires too: its expiry is in metrics and on the status page like an ACME one's.
        var metrics = PrometheusText.Parse(await client.GetStringAsync("/metrics", TestContext.Current.CancellationToken));
        Assert.Equal(
            new DateTimeOffset(certificate.NotAfter.ToUniversalTime()).ToUnixTimeSeconds(),
            metrics.Value("annexedge_certificate_expiry_timestamp_seconds", ("domain", AcmeEdge.DefaultDomain)));
        var page = await client.GetStringAsync("/_annexedge/", TestContext.Current.CancellationToken);
        Assert.Contains("<tr><td>" + AcmeEdge.DefaultDomain + "</td>", page);
    }

    private static JsonObject CertificateFiles(TempDirectory files) => new()
    {
        ["Path"] = files.Combine("edge.pem"),
        ["KeyPath"] = files.Combine("edge.key"),
    };

    /// <summary>A self-signed certificate for the edge's name as an operator's PEM files; the client trusts it alone.</summary>
    private static (string Pem, X509Certificate2 Certificate) WriteSelfSigned(TempDirectory files)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={AcmeEdge.DefaultDomain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(AcmeEdge.DefaultDomain);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var pem = certificate.ExportCertificatePem();
        File.WriteAllText(files.Combine("edge.pem"), pem);
        File.WriteAllText(files.Combine("edge.key"), key.ExportPkcs8PrivateKeyPem());
        return (pem, certificate);
    }
}
