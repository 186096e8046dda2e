using System.Text.RegularExpressions;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Acme;

/// <summary>
/// The built edge with an HTTP and an HTTPS listener, normally with ACME configured against a <see cref="PebbleServer"/>.
/// Clients reach it under <see cref="Domain"/>, which the test resolves to 127.0.0.1 itself.
/// </summary>
public sealed class AcmeEdge : IAsyncDisposable
{
    public const string DefaultDomain = "edge.annexedge.test";
    private const string PlaceholderUuid = "11111111-2222-4333-8444-555555555555";

    private readonly BackgroundProcess _process;
    private readonly TempDirectory _dir;

    private AcmeEdge(BackgroundProcess process, TempDirectory dir, int httpPort, int httpsPort, string domain)
    {
        _process = process;
        _dir = dir;
        HttpPort = httpPort;
        HttpsPort = httpsPort;
        Domain = domain;
    }

    public int HttpPort { get; }

    public int HttpsPort { get; }

    /// <summary>The name clients ask for (SNI, certificate check).</summary>
    public string Domain { get; }

    public string Logs => _process.Output;

    /// <summary>Waits (up to 5 s, see <see cref="BackgroundProcess.LineAsync"/>) for a log line holding the text.</summary>
    public Task<string> LogLineAsync(string text) => _process.LineAsync(new Regex(Regex.Escape(text)));

    /// <summary>Waits (up to 5 s) for a log line matching the pattern.</summary>
    public Task<string> LogMatchAsync(string pattern) => _process.LineAsync(new Regex(pattern));

    /// <summary>The ACME section for this Pebble and <see cref="DefaultDomain"/>; tests change settings before starting.</summary>
    public static JsonObject AcmeSection(PebbleServer pebble, string storePath, params string[] challenges) => new()
    {
        ["Enabled"] = true,
        ["DirectoryUrl"] = pebble.DirectoryUrl,
        ["AcceptTermsOfService"] = true,
        ["Email"] = "ops@annexedge.test",
        ["Domains"] = new JsonArray(DefaultDomain),
        ["Challenges"] = new JsonArray(challenges.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
        ["StorePath"] = storePath,
        ["TrustedRootsFile"] = pebble.TlsCertificatePath,
    };

    /// <summary>
    /// Starts the edge with ACME on the given ports (Pebble validates against them), serving the nodes as repositories
    /// (or a placeholder repository), and waits for its plain-HTTP liveness.
    /// </summary>
    public static Task<AcmeEdge> StartAsync(JsonObject acme, int httpPort, int httpsPort, params P2pNode[] nodes)
    {
        var section = nodes.Length > 0 ? EdgeProcess.ConfigFor(nodes) : PlaceholderSection();
        section["Acme"] = acme.DeepClone();
        // These tests are about certificates, not access: open the served repositories as EdgeProcess does.
        section["Anonymous"] = new JsonObject { ["*"] = "full" };
        var domain = acme["Domains"]![0]!.GetValue<string>();
        return StartAsync(new JsonObject { ["AnnexEdge"] = section }, $"http://127.0.0.1:{httpPort};https://127.0.0.1:{httpsPort}", httpPort, httpsPort, domain);
    }

    /// <summary>An <c>AnnexEdge</c> section with one repository nobody serves, for tests of HTTPS alone.</summary>
    public static JsonObject PlaceholderSection() => new()
    {
        ["Repositories"] = new JsonArray(new JsonObject
        {
            ["Name"] = "unused",
            ["Uuid"] = PlaceholderUuid,
            ["Backends"] = new JsonArray("http://127.0.0.1:9"),
        }),
        ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
    };

    /// <summary>
    /// Starts the edge with a whole configuration file (e.g. Kestrel's own endpoints and certificates) and
    /// <paramref name="urls"/> (null: the configuration's endpoints only); waits for plain HTTP on <paramref name="httpPort"/>.
    /// </summary>
    public static async Task<AcmeEdge> StartAsync(JsonObject configuration, string? urls, int httpPort, int httpsPort, string domain)
    {
        var dir = new TempDirectory("acme-edge");
        var configPath = dir.Combine("annexedge.json");
        await File.WriteAllTextAsync(configPath, configuration.ToJsonString());
        string[] args = urls is null ? [EdgeBinary.Path, "--config", configPath] : [EdgeBinary.Path, "--config", configPath, "--urls", urls];
        var process = new BackgroundProcess("dotnet", args, dir.Path);
        var edge = new AcmeEdge(process, dir, httpPort, httpsPort, domain);
        try
        {
            await edge.WaitForHttpAsync();
        }
        catch
        {
            await edge.DisposeAsync();
            throw;
        }

        return edge;
    }

    /// <summary>
    /// An HTTPS client that trusts only <paramref name="rootPem"/>, checks the name <see cref="Domain"/>, and connects
    /// to this edge for it.
    /// </summary>
    public HttpClient VerifyingClient(string rootPem)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                await socket.ConnectAsync(IPAddress.Loopback, HttpsPort, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
            PooledConnectionLifetime = TimeSpan.Zero,
            SslOptions = VerifyingOptions(rootPem),
        };
        return new HttpClient(handler) { BaseAddress = new Uri($"https://{Domain}:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>Waits until HTTPS serves a certificate <paramref name="rootPem"/> vouches for; returns that certificate.</summary>
    public async Task<X509Certificate2> WaitForVerifiedHttpsAsync(string rootPem, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"AnnexEdge exited:\n{Logs}");
            }

            try
            {
                using var client = VerifyingClient(rootPem);
                using var response = await client.GetAsync("/_annexedge/health");
                response.EnsureSuccessStatusCode();
                return await VerifiedCertificateAsync(rootPem);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                last = e;
            }

            await Task.Delay(250);
        }

        throw new TimeoutException($"no verified HTTPS within {timeout}: {last?.Message}\n{Logs}");
    }

    /// <summary>The certificate a verified handshake for <see cref="Domain"/> gets now.</summary>
    public async Task<X509Certificate2> VerifiedCertificateAsync(string rootPem)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, HttpsPort);
        await using var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(VerifyingOptions(rootPem));
        return X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData());
    }

    /// <summary>A verified TLS connection kept open across requests (HTTP/1.1 keep-alive).</summary>
    public async Task<OpenConnection> OpenVerifiedConnectionAsync(string rootPem)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, HttpsPort);
        var tls = new SslStream(tcp.GetStream());
        await tls.AuthenticateAsClientAsync(VerifyingOptions(rootPem));
        return new OpenConnection(tcp, tls, Domain);
    }

    private SslClientAuthenticationOptions VerifyingOptions(string rootPem) => new()
    {
        TargetHost = Domain,
        CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            CustomTrustStore = { X509Certificate2.CreateFromPem(rootPem) },
        },
    };

    public async ValueTask DisposeAsync()
    {
        _process.Dispose();
        await Task.Yield();
        _dir.Dispose();
    }

    /// <summary>Waits until plain HTTP answers and every endpoint is bound.</summary>
    private async Task WaitForHttpAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"AnnexEdge exited at start-up:\n{Logs}");
            }

            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{HttpPort}/_annexedge/health");
                // Kestrel accepts on each endpoint as soon as it is bound: HTTPS may still be binding when HTTP answers.
                if (response.IsSuccessStatusCode && Logs.Contains("Application started", StringComparison.Ordinal))
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

        throw new TimeoutException($"AnnexEdge did not start serving:\n{Logs}");
    }
}

/// <summary>One TLS connection on which requests are sent one after another.</summary>
public sealed class OpenConnection(TcpClient tcp, SslStream tls, string host) : IAsyncDisposable
{
    public X509Certificate2 Certificate { get; } = X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData());

    /// <summary>Sends a GET on this connection and returns the status code (the body is read and discarded).</summary>
    public async Task<int> GetStatusAsync(string path)
    {
        var request = System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        await tls.WriteAsync(request);
        var buffer = new byte[8192];
        var text = "";
        while (!text.Contains("\r\n\r\n", StringComparison.Ordinal) || !HasWholeBody(text))
        {
            var n = await tls.ReadAsync(buffer);
            if (n == 0)
            {
                throw new IOException("the edge closed the connection");
            }

            text += System.Text.Encoding.ASCII.GetString(buffer, 0, n);
        }

        return int.Parse(text.Split(' ')[1]);
    }

    public async ValueTask DisposeAsync()
    {
        await tls.DisposeAsync();
        tcp.Dispose();
    }

    private static bool HasWholeBody(string text)
    {
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var match = System.Text.RegularExpressions.Regex.Match(text[..headerEnd], "(?i)content-length: *(\\d+)");
        return !match.Success || text.Length - headerEnd - 4 >= int.Parse(match.Groups[1].Value);
    }
}
