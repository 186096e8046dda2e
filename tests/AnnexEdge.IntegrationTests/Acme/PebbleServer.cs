using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Acme;

/// <summary>
/// A real Pebble ACME server on loopback (Debian package <c>pebble</c>), validating challenges against the given
/// HTTP and HTTPS ports. Names resolve to 127.0.0.1 through <c>pebble-challtestsrv</c>'s DNS, so any test domain
/// reaches the edge. Pebble's own TLS certificate is made here; its CA root comes from the management port.
/// </summary>
public sealed class PebbleServer : IAsyncDisposable
{
    private readonly TempDirectory _dir;
    private readonly BackgroundProcess _dns;
    private readonly BackgroundProcess _pebble;
    private readonly int _managementPort;

    private PebbleServer(TempDirectory dir, BackgroundProcess dns, BackgroundProcess pebble, int port, int managementPort)
    {
        _dir = dir;
        _dns = dns;
        _pebble = pebble;
        Port = port;
        _managementPort = managementPort;
    }

    public int Port { get; }

    public string DirectoryUrl => $"https://127.0.0.1:{Port}/dir";

    /// <summary>PEM of the certificate Pebble's own HTTPS presents (what the edge must trust to talk to it).</summary>
    public string TlsCertificatePath => _dir.Combine("pebble-tls.pem");

    public string Logs => _pebble.Output;

    public static async Task<PebbleServer> StartAsync(int httpPort, int tlsPort, IDictionary<string, string>? environment = null, TimeSpan? certificateValidity = null)
    {
        if (!File.Exists("/usr/bin/pebble"))
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                throw new InvalidOperationException("pebble is not installed (apt-get install pebble)");
            }

            Assert.Skip("pebble is not installed (apt-get install pebble)");
        }

        var dir = new TempDirectory("pebble");
        WriteTlsCertificate(dir);
        var port = FreePort.Next();
        var managementPort = FreePort.Next();
        var dnsPort = FreePort.Next();
        var config = new JsonObject
        {
            ["pebble"] = new JsonObject
            {
                ["listenAddress"] = $"127.0.0.1:{port}",
                ["managementListenAddress"] = $"127.0.0.1:{managementPort}",
                ["certificate"] = dir.Combine("pebble-tls.pem"),
                ["privateKey"] = dir.Combine("pebble-tls.key"),
                ["httpPort"] = httpPort,
                ["tlsPort"] = tlsPort,
                ["ocspResponderURL"] = "",
                ["externalAccountBindingRequired"] = false,
            },
        };
        if (certificateValidity is { } validity)
        {
            config["pebble"]!["certificateValidityPeriod"] = (ulong)validity.TotalSeconds;
        }

        await File.WriteAllTextAsync(dir.Combine("pebble.json"), config.ToJsonString());

        var dns = new BackgroundProcess(
            "pebble-challtestsrv",
            ["-dns01", $"127.0.0.1:{dnsPort}", "-http01", "", "-https01", "", "-tlsalpn01", "", "-management", $"127.0.0.1:{FreePort.Next()}", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"],
            dir.Path);
        var env = new Dictionary<string, string> { ["PEBBLE_VA_NOSLEEP"] = "1", ["PEBBLE_WFE_NONCEREJECT"] = "0", ["PEBBLE_AUTHZREUSE"] = "0" };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
        {
            env[k] = v;
        }

        var pebble = new BackgroundProcess("pebble", ["-config", dir.Combine("pebble.json"), "-dnsserver", $"127.0.0.1:{dnsPort}"], dir.Path, env);
        var server = new PebbleServer(dir, dns, pebble, port, managementPort);
        try
        {
            await server.WaitUntilServingAsync();
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    /// <summary>Pebble's issuing root (regenerated at each start), PEM.</summary>
    public async Task<string> RootPemAsync()
    {
        using var http = TrustingHttp();
        return await http.GetStringAsync($"https://127.0.0.1:{_managementPort}/roots/0");
    }

    public async ValueTask DisposeAsync()
    {
        _pebble.Dispose();
        _dns.Dispose();
        await Task.Yield();
        _dir.Dispose();
    }

    private HttpClient TrustingHttp()
    {
        var trusted = X509CertificateLoader.LoadCertificateFromFile(TlsCertificatePath);
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
            certificate is not null && certificate.GetCertHashString() == trusted.GetCertHashString();
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    private async Task WaitUntilServingAsync()
    {
        using var http = TrustingHttp();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_pebble.HasExited)
            {
                throw new InvalidOperationException($"pebble exited at start-up:\n{_pebble.Output}");
            }

            try
            {
                using var response = await http.GetAsync(DirectoryUrl);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"pebble did not start:\n{_pebble.Output}\n{_dns.Output}");
    }

    /// <summary>A self-signed certificate for 127.0.0.1/localhost: Pebble's HTTPS, and the edge's TrustedRootsFile.</summary>
    private static void WriteTlsCertificate(TempDirectory dir)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=pebble test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(7));
        File.WriteAllText(dir.Combine("pebble-tls.pem"), certificate.ExportCertificatePem());
        File.WriteAllText(dir.Combine("pebble-tls.key"), key.ExportECPrivateKeyPem());
    }
}
