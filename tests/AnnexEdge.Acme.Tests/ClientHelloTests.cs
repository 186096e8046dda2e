using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using AnnexEdge.Acme.Hosting;

namespace AnnexEdge.Acme.Tests;

public sealed class ClientHelloTests
{
    [Fact]
    public async Task Real_ClientHello_gives_server_name_and_offered_acme_tls_protocol()
    {
        var hello = await CaptureAsync("edge.example.org", [new SslApplicationProtocol("acme-tls/1")]);

        Assert.NotNull(hello);
        Assert.Equal("edge.example.org", hello.ServerName);
        Assert.True(hello.OffersAcmeTls);
    }

    [Fact]
    public async Task Ordinary_https_ClientHello_does_not_offer_acme_tls()
    {
        var hello = await CaptureAsync("edge.example.org", [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11]);

        Assert.NotNull(hello);
        Assert.Equal(["h2", "http/1.1"], hello.ApplicationProtocols);
        Assert.False(hello.OffersAcmeTls);
    }

    [Fact]
    public void Bytes_that_are_not_a_ClientHello_give_nothing()
    {
        Assert.Null(ClientHello.Parse(new ReadOnlySequence<byte>("GET / HTTP/1.1\r\n\r\n"u8.ToArray())));
        Assert.Null(ClientHello.Parse(new ReadOnlySequence<byte>([22, 3, 1, 0, 200, 1, 0])));
    }

    /// <summary>Starts a real TLS client against a socket and parses what it sends first.</summary>
    private static async Task<ClientHello?> CaptureAsync(string serverName, List<SslApplicationProtocol> protocols)
    {
        var cancellation = TestContext.Current.CancellationToken;
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellation);
        using var server = await listener.AcceptTcpClientAsync(cancellation);
        using var tls = new SslStream(client.GetStream());
        var handshake = tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = serverName, ApplicationProtocols = protocols }, cancellation);

        var buffer = new byte[16384];
        var read = 0;
        ClientHello? hello = null;
        while (hello is null && read < buffer.Length)
        {
            var n = await server.GetStream().ReadAsync(buffer.AsMemory(read), cancellation);
            if (n == 0)
            {
                break;
            }

            read += n;
            hello = ClientHello.Parse(new ReadOnlySequence<byte>(buffer, 0, read));
        }

        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake);
        return hello;
    }
}
