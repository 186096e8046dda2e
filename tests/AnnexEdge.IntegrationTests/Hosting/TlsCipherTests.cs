using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.IntegrationTests.Fixtures;

namespace AnnexEdge.IntegrationTests.Hosting;

/// <summary>
/// The OpenSSL settings published with the edge (<c>openssl.cnf</c>, named by <c>OPENSSL_CONF</c> in the Dockerfile
/// and the systemd unit): a TLS client that offers ChaCha20-Poly1305 first, as git-annex's does, gets it; one that
/// offers AES-GCM first keeps AES-GCM. Without them Kestrel gives every client AES-256-GCM, which git-annex's client
/// computes about four times slower.
/// </summary>
public sealed class TlsCipherTests
{
    [Fact]
    public async Task With_the_published_openssl_config_a_client_preferring_chacha20_gets_it_and_one_preferring_aes_keeps_aes()
    {
        using var files = new TempDirectory("tls");
        var certificate = TestCa.Write(files);
        await using var node = await P2pNode.StartAsync("cipher");
        var openSslConf = Path.Combine(Path.GetDirectoryName(EdgeBinary.Path)!, "openssl.cnf");
        Assert.True(File.Exists(openSslConf), openSslConf + " is not published next to AnnexEdge.dll");
        await using var edge = await EdgeProcess.StartAsync(
            EdgeProcess.ConfigFor(node), new Dictionary<string, string> { ["OPENSSL_CONF"] = openSslConf }, https: certificate);

        Assert.Equal(
            TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
            await NegotiatedAsync(edge.Port, certificate.Ca, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_AES_128_GCM_SHA256));
        Assert.Equal(
            TlsCipherSuite.TLS_AES_256_GCM_SHA384,
            await NegotiatedAsync(edge.Port, certificate.Ca, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256, TlsCipherSuite.TLS_AES_128_GCM_SHA256));
    }

    /// <summary>A TLS 1.3 handshake offering these suites in this order; the suite the edge chose.</summary>
    private static async Task<TlsCipherSuite> NegotiatedAsync(int port, string caFile, params TlsCipherSuite[] offered)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port, TestContext.Current.CancellationToken);
        await using var tls = new SslStream(tcp.GetStream());
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.Add(X509Certificate2.CreateFromPem(File.ReadAllText(caFile)));
        await tls.AuthenticateAsClientAsync(
            new SslClientAuthenticationOptions
            {
                TargetHost = "127.0.0.1",
                EnabledSslProtocols = SslProtocols.Tls13,
                CipherSuitesPolicy = new CipherSuitesPolicy(offered),
                CertificateChainPolicy = policy,
            },
            TestContext.Current.CancellationToken);
        return tls.NegotiatedCipherSuite;
    }
}
