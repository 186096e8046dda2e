using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Acme;

/// <summary>
/// The built edge with an HTTP and an HTTPS listener and ACME configured against a <see cref="PebbleServer"/>.
/// Clients reach it under <see cref="Domain"/>, which the test resolves to 127.0.0.1 itself.
/// </summary>
public sealed class AcmeEdge : IAsyncDisposable
{
    public const string Domain = "edge.annexedge.test";
    private const string RepositoryUuid = "11111111-2222-4333-8444-555555555555";

    private readonly BackgroundProcess _process;
    private readonly TempDirectory? _ownDir;

    private AcmeEdge(BackgroundProcess process, TempDirectory? ownDir, int httpPort, int httpsPort)
    {
        _process = process;
        _ownDir = ownDir;
        HttpPort = httpPort;
        HttpsPort = httpsPort;
    }

    public int HttpPort { get; }

    public int HttpsPort { get; }

    public string Logs => _process.Output;

    /// <summary>The ACME section for this Pebble; tests change settings before starting.</summary>
    public static JsonObject AcmeSection(PebbleServer pebble, string storePath, params string[] challenges) => new()
    {
        ["Enabled"] = true,
        ["DirectoryUrl"] = pebble.DirectoryUrl,
        ["AcceptTermsOfService"] = true,
        ["Email"] = "ops@annexedge.test",
        ["Domains"] = new JsonArray(Domain),
        ["Challenges"] = new JsonArray(challenges.Select(c => (JsonNode)JsonValue.Create(c)).ToArray()),
        ["StorePath"] = storePath,
        ["TrustedRootsFile"] = pebble.TlsCertificatePath,
    };

    /// <summary>Starts the edge on the given ports (Pebble validates against them) and waits for its plain-HTTP liveness.</summary>
    public static async Task<AcmeEdge> StartAsync(JsonObject acme, int httpPort, int httpsPort)
    {
        var dir = new TempDirectory("acme-edge");
        var config = new JsonObject
        {
            ["AnnexEdge"] = new JsonObject
            {
                ["Repositories"] = new JsonArray(new JsonObject
                {
                    ["Name"] = "unused",
                    ["Uuid"] = RepositoryUuid,
                    ["Backends"] = new JsonArray("http://127.0.0.1:9"),
                }),
                ["HealthChecks"] = new JsonObject { ["Enabled"] = false },
                ["Acme"] = acme.DeepClone(),
            },
        };
        var configPath = dir.Combine("annexedge.json");
        await File.WriteAllTextAsync(configPath, config.ToJsonString());
        var process = new BackgroundProcess(
            "dotnet",
            [EdgeBinary.Path, "--config", configPath, "--urls", $"http://127.0.0.1:{httpPort};https://127.0.0.1:{httpsPort}"],
            dir.Path);
        var edge = new AcmeEdge(process, dir, httpPort, httpsPort);
        await edge.WaitForHttpAsync();
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
        return new HttpClient(handler) { BaseAddress = new Uri($"https://{Domain}:{HttpsPort}"), Timeout = TimeSpan.FromSeconds(10) };
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
            catch (HttpRequestException e)
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
        return new OpenConnection(tcp, tls);
    }

    private static SslClientAuthenticationOptions VerifyingOptions(string rootPem) => new()
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
        _ownDir?.Dispose();
    }

    private async Task WaitForHttpAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"AnnexEdge exited at start-up:\n{Logs}");
            }

            try
            {
                using var response = await http.GetAsync($"http://127.0.0.1:{HttpPort}/_annexedge/health");
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

        throw new TimeoutException($"AnnexEdge did not start serving:\n{Logs}");
    }
}

/// <summary>One TLS connection on which requests are sent one after another.</summary>
public sealed class OpenConnection(TcpClient tcp, SslStream tls) : IAsyncDisposable
{
    public X509Certificate2 Certificate { get; } = X509CertificateLoader.LoadCertificate(tls.RemoteCertificate!.GetRawCertData());

    /// <summary>Sends a GET on this connection and returns the status code (the body is read and discarded).</summary>
    public async Task<int> GetStatusAsync(string path)
    {
        var request = System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {AcmeEdge.Domain}\r\n\r\n");
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
