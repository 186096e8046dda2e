using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using AnnexEdge.IntegrationTests.Acme;
using AnnexEdge.IntegrationTests.Fixtures;
using AnnexEdge.Security;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// One edge with an HTTP and an HTTPS listener, its certificate an operator's static self-signed PEM files
/// (Kestrel <c>Certificates:Default</c>), in front of a real node; <c>AllowBasicAuthOverHttp</c> is false. A proxy at
/// 127.0.0.2 speaks PROXY protocol to it (<see cref="ProxiedClient"/>); every other client connects directly.
/// </summary>
public sealed class HttpsEdge : IAsyncLifetime
{
    public const string User = "alice";
    public const string Password = "https-pw";

    private readonly TempDirectory _files = new("https-edge");
    private P2pNode? _node;
    private AcmeEdge? _edge;

    public AcmeEdge Edge => _edge ?? throw new InvalidOperationException("not started");

    public P2pNode Node => _node ?? throw new InvalidOperationException("not started");

    /// <summary>The certificate the edge serves, which test clients trust alone.</summary>
    public string CertificatePem { get; private set; } = "";

    public async ValueTask InitializeAsync()
    {
        _node = await P2pNode.StartAsync("node1");
        CertificatePem = WriteSelfSigned(_files);
        var section = EdgeProcess.ConfigFor(_node);
        section["Users"] = new JsonArray(new JsonObject
        {
            ["Name"] = User,
            ["PasswordHash"] = PasswordHash.Create(Password, PasswordHash.MinimumIterations),
            ["Access"] = new JsonObject { ["*"] = "full" },
        });
        section["AllowBasicAuthOverHttp"] = false;
        section["Limits"] = new JsonObject
        {
            ["TrustedProxies"] = new JsonArray(ProxiedClient.ProxyAddress.ToString()),
            ["ProxyProtocol"] = true,
        };
        var configuration = new JsonObject
        {
            ["AnnexEdge"] = section,
            ["Kestrel"] = new JsonObject
            {
                ["Certificates"] = new JsonObject
                {
                    ["Default"] = new JsonObject { ["Path"] = _files.Combine("edge.pem"), ["KeyPath"] = _files.Combine("edge.key") },
                },
            },
        };
        var (httpPort, httpsPort) = (FreePort.Next(), FreePort.Next());
        _edge = await AcmeEdge.StartAsync(
            configuration, $"http://127.0.0.1:{httpPort};https://127.0.0.1:{httpsPort}", httpPort, httpsPort, AcmeEdge.DefaultDomain);
    }

    public async ValueTask DisposeAsync()
    {
        if (_edge is not null)
        {
            await _edge.DisposeAsync();
        }

        if (_node is not null)
        {
            await _node.DisposeAsync();
        }

        _files.Dispose();
    }

    /// <summary>A self-signed ECDSA certificate for the edge's name, written as the operator's PEM files.</summary>
    private static string WriteSelfSigned(TempDirectory files)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={AcmeEdge.DefaultDomain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(AcmeEdge.DefaultDomain);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var pem = certificate.ExportCertificatePem();
        File.WriteAllText(files.Combine("edge.pem"), pem);
        File.WriteAllText(files.Combine("edge.key"), key.ExportPkcs8PrivateKeyPem());
        return pem;
    }
}

/// <summary>HSTS, TLS versions and credentials on the right channel, on an edge serving HTTPS with a static certificate.</summary>
public sealed class HttpsHardeningTests(HttpsEdge https) : IClassFixture<HttpsEdge>
{
    private const string Hsts = "max-age=31536000";

    private string CheckPresentPath => $"/git-annex/{https.Node.Uuid}/v4/checkpresent?key=SHA256E-s1--{new string('0', 64)}&clientuuid={AuthMatrix.ClientUuid}";

    [Fact]
    public async Task Hsts_is_sent_on_https_answers_and_never_on_plain_http()
    {
        var ct = TestContext.Current.CancellationToken;
        using var secure = https.Edge.VerifyingClient(https.CertificatePem);
        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{https.Edge.HttpPort}"), Timeout = TimeSpan.FromSeconds(10) };

        using var secureHealth = await secure.GetAsync("/_annexedge/health", ct);
        using var secureP2p = await SendAsync(secure, CheckPresentPath, AuthMatrix.Basic(HttpsEdge.User, HttpsEdge.Password));
        using var secureRefusal = await SendAsync(secure, CheckPresentPath, null);
        using var plainHealth = await plain.GetAsync("/_annexedge/health", ct);
        using var plainP2p = await SendAsync(plain, CheckPresentPath, null);

        Assert.Equal(HttpStatusCode.OK, secureHealth.StatusCode);
        Assert.Equal(HttpStatusCode.OK, secureP2p.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, secureRefusal.StatusCode);
        foreach (var answer in new[] { secureHealth, secureP2p, secureRefusal })
        {
            Assert.Equal([Hsts], answer.Headers.GetValues("Strict-Transport-Security"));
        }

        Assert.Equal(HttpStatusCode.OK, plainHealth.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, plainP2p.StatusCode);
        foreach (var answer in new[] { plainHealth, plainP2p })
        {
            Assert.False(answer.Headers.Contains("Strict-Transport-Security"), "HSTS on plain HTTP means nothing and must not be sent");
        }
    }

    [Theory]
    [InlineData(SslProtocols.Tls12)]
    [InlineData(SslProtocols.Tls13)]
    public async Task A_tls_handshake_limited_to_one_allowed_version_succeeds_with_that_version(SslProtocols protocol)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, https.Edge.HttpsPort, TestContext.Current.CancellationToken);
        await using var tls = new SslStream(tcp.GetStream());

        await tls.AuthenticateAsClientAsync(ClientOptions(protocol), TestContext.Current.CancellationToken);

        Assert.Equal(protocol, tls.SslProtocol);
    }

    /// <summary>
    /// The client hello is written by hand: with OpenSSL 3 a .NET client limited to TLS 1.1 fails locally ("no ciphers
    /// available") without sending anything, which would prove nothing about the edge. The same hand-made hello
    /// offering TLS 1.2 gets a ServerHello, so the hello itself is sound. The alert must be protocol_version: a server
    /// left at the OS defaults (SslProtocols.None) answers this TLS 1.1 hello with handshake_failure (40) instead, as it
    /// finds no TLS 1.1 cipher at OpenSSL 3's security level (seen on OpenSSL 3.0.19), so 70 is the edge's TLS 1.2+ rule.
    /// </summary>
    [Theory]
    [InlineData(0x0301, "TLS 1.0")]
    [InlineData(0x0302, "TLS 1.1")]
    public async Task A_client_hello_offering_at_most_tls_1_1_gets_a_protocol_version_alert(int version, string name)
    {
        var accepted = await TlsProbe.SendClientHelloAsync(https.Edge.HttpsPort, 0x0303, AcmeEdge.DefaultDomain);
        var refused = await TlsProbe.SendClientHelloAsync(https.Edge.HttpsPort, version, AcmeEdge.DefaultDomain);

        Assert.Equal(TlsProbe.Answer.ServerHello(0x0303), accepted);
        Assert.True(refused == TlsProbe.Answer.Alert(TlsProbe.ProtocolVersionAlert), $"{name}: the edge answered {refused}, not a protocol_version alert");
    }

    [Fact]
    public async Task A_users_credentials_are_accepted_over_https_and_refused_with_403_over_plain_http()
    {
        var ct = TestContext.Current.CancellationToken;
        var alice = AuthMatrix.Basic(HttpsEdge.User, HttpsEdge.Password);
        using var secure = https.Edge.VerifyingClient(https.CertificatePem);
        using var plain = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{https.Edge.HttpPort}"), Timeout = TimeSpan.FromSeconds(10) };

        using var overHttps = await SendAsync(secure, CheckPresentPath, alice);
        using var wrongOverHttps = await SendAsync(secure, CheckPresentPath, AuthMatrix.Basic(HttpsEdge.User, "wrong"));
        using var overHttp = await SendAsync(plain, CheckPresentPath, alice);

        Assert.Equal(HttpStatusCode.OK, overHttps.StatusCode);
        Assert.Contains("\"present\"", await overHttps.Content.ReadAsStringAsync(ct));
        Assert.Equal(HttpStatusCode.Unauthorized, wrongOverHttps.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, overHttp.StatusCode);
        Assert.Contains("HTTPS", await overHttp.Content.ReadAsStringAsync(ct));
        Assert.False(overHttp.Headers.Contains("WWW-Authenticate"), "no invitation to resend the password in clear");
        Assert.DoesNotContain(HttpsEdge.Password, https.Edge.Logs);
    }

    [Fact]
    public async Task A_proxy_protocol_header_before_the_tls_hello_gives_https_requests_the_clients_address()
    {
        var remote = await StatusThroughProxyAsync(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 40001));
        var local = await StatusThroughProxyAsync(new IPEndPoint(IPAddress.Loopback, 40002));

        // The status is for loopback clients only: the proxy's client at 203.0.113.7 is not one, whatever the proxy is.
        Assert.Equal(404, remote);
        Assert.Equal(200, local);
        Assert.Contains("\"RemoteIp\": \"203.0.113.7\"", await https.Edge.LogLineAsync("/_annexedge/status 404"));
    }

    private async Task<int?> StatusThroughProxyAsync(IPEndPoint client)
    {
        await using var proxy = await ProxiedClient.ConnectAsync(ProxiedClient.ProxyAddress, https.Edge.HttpsPort);
        await proxy.WriteAsync(ProxiedClient.V2Header(client, https.Edge.HttpsPort));
        var tls = new SslStream(proxy.Stream);
        await tls.AuthenticateAsClientAsync(ClientOptions(SslProtocols.None), TestContext.Current.CancellationToken);
        proxy.Stream = tls;
        return await proxy.SendAsync("GET", "/_annexedge/status");
    }

    private SslClientAuthenticationOptions ClientOptions(SslProtocols protocols) => new()
    {
        TargetHost = AcmeEdge.DefaultDomain,
        EnabledSslProtocols = protocols,
        CertificateChainPolicy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            CustomTrustStore = { X509Certificate2.CreateFromPem(https.CertificatePem) },
        },
    };

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string path, System.Net.Http.Headers.AuthenticationHeaderValue? credentials)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Authorization = credentials;
        return await http.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
