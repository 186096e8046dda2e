using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using AnnexEdge.Connections;

namespace AnnexEdge.Tests.Connections;

public sealed class TlsBufferReleaseTests
{
    [Fact]
    public void The_libssl_mapped_into_the_process_is_found_once_whatever_its_path()
    {
        string[] maps =
        [
            "7f1c2a000000-7f1c2a020000 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libssl.so.3",
            "7f1c2a020000-7f1c2a090000 r-xp 00020000 08:01 1234 /usr/lib/x86_64-linux-gnu/libssl.so.3",
            "7f1c2b000000-7f1c2b020000 r--p 00000000 08:01 1235 /usr/lib/x86_64-linux-gnu/libcrypto.so.3",
            "7f1c2c000000-7f1c2c001000 rw-p 00000000 00:00 0 ",
            "7f1c2d000000-7f1c2d001000 r--p 00000000 08:01 99 /opt/my libs/libsslwrap.so",
            "7ffd3c000000-7ffd3c021000 rw-p 00000000 00:00 0                          [stack]",
        ];

        Assert.Equal(["/usr/lib/x86_64-linux-gnu/libssl.so.3"], TlsBufferRelease.LoadedLibssl(maps));
    }

    [Fact]
    public void Paths_with_spaces_and_two_different_libssl_are_both_seen()
    {
        string[] maps =
        [
            "7f1c2a000000-7f1c2a020000 r--p 00000000 08:01 1 /opt/old ssl/libssl.so.1.1",
            "7f1c2b000000-7f1c2b020000 r--p 00000000 08:01 2 /usr/lib/libssl.so.3",
        ];

        Assert.Equal(["/opt/old ssl/libssl.so.1.1", "/usr/lib/libssl.so.3"], TlsBufferRelease.LoadedLibssl(maps));
    }

    [Fact]
    public void Without_exactly_one_libssl_loaded_it_is_unavailable_and_says_why()
    {
        Assert.Null(TlsBufferRelease.TryCreate([], out var none));
        Assert.Contains("not loaded", none);

        string[] two =
        [
            "7f1c2a000000-7f1c2a020000 r--p 00000000 08:01 1 /opt/a/libssl.so.3",
            "7f1c2b000000-7f1c2b020000 r--p 00000000 08:01 2 /opt/b/libssl.so.3",
        ];
        Assert.Null(TlsBufferRelease.TryCreate(two, out var both));
        Assert.Contains("/opt/a/libssl.so.3", both);
    }

    [Fact]
    public async Task On_this_runtime_both_ends_of_a_connection_take_the_mode_and_data_still_flows_intact_both_ways()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var pair = await TlsPair.OpenAsync(ct);
        var release = TlsBufferRelease.TryCreate(out var reason);
        Assert.True(release is not null, reason);

        Assert.True(release.FreesHeldBuffers, "this machine's OpenSSL is 3.0.14 or later");

        await ExchangeAsync(pair, ct);
        Assert.True(release.Apply(pair.Server));
        Assert.True(release.Apply(pair.Client));
        await ExchangeAsync(pair, ct);
        Assert.True(release.Apply(pair.Server), "setting it again keeps it");
        await ExchangeAsync(pair, ct);
    }

    /// <summary>More than a record each way at once, in odd sizes, so buffers are freed and taken again mid-stream.</summary>
    private static async Task ExchangeAsync(TlsPair pair, CancellationToken ct)
    {
        var up = RandomNumberGenerator.GetBytes(1024 * 1024 + 7);
        var down = RandomNumberGenerator.GetBytes(3 * 16 * 1024 + 5);
        var sent = Task.WhenAll(pair.Client.WriteAsync(up, ct).AsTask(), pair.Server.WriteAsync(down, ct).AsTask());
        var (atServer, atClient) = (ReadExactlyAsync(pair.Server, up.Length, ct), ReadExactlyAsync(pair.Client, down.Length, ct));
        await sent;

        Assert.Equal(up, await atServer);
        Assert.Equal(down, await atClient);
    }

    [Fact]
    public async Task A_stream_before_its_handshake_has_no_OpenSSL_connection_and_is_left_alone()
    {
        var release = TlsBufferRelease.TryCreate(out var reason);
        Assert.True(release is not null, reason);
        await using var stream = new SslStream(new MemoryStream());

        Assert.False(release.Apply(stream));
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int length, CancellationToken ct)
    {
        var buffer = new byte[length];
        await stream.ReadExactlyAsync(buffer, ct);
        return buffer;
    }

    /// <summary>Two ends of a TLS connection, the client trusting the server's self-signed certificate alone, over loopback TCP (the handshake also loads libssl).</summary>
    private sealed class TlsPair : IAsyncDisposable
    {
        private readonly TcpClient _clientTcp;
        private readonly TcpClient _serverTcp;

        private TlsPair(TcpClient clientTcp, TcpClient serverTcp, SslStream client, SslStream server) =>
            (_clientTcp, _serverTcp, Client, Server) = (clientTcp, serverTcp, client, server);

        public SslStream Client { get; }

        public SslStream Server { get; }

        public static async Task<TlsPair> OpenAsync(CancellationToken ct)
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            using var certificate = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256)
                .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                var accepted = listener.AcceptTcpClientAsync(ct).AsTask();
                var clientTcp = new TcpClient();
                await clientTcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, ct);
                var serverTcp = await accepted;
                var server = new SslStream(serverTcp.GetStream());
                var thumbprint = certificate.Thumbprint;
                var client = new SslStream(clientTcp.GetStream(), false, (_, presented, _, _) => presented?.GetCertHashString() == thumbprint);
                await Task.WhenAll(
                    server.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, ct),
                    client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, ct));
                return new TlsPair(clientTcp, serverTcp, client, server);
            }
            finally
            {
                listener.Stop();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await Client.DisposeAsync();
            await Server.DisposeAsync();
            _clientTcp.Dispose();
            _serverTcp.Dispose();
        }
    }
}
