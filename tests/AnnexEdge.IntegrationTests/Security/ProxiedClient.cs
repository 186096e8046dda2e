using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// A raw TCP client that can act as a proxy: it connects from a chosen loopback address (tests trust 127.0.0.2 as
/// the proxy and let 127.0.0.1 be anyone else), writes PROXY protocol headers as load balancers do, and sends
/// HTTP/1.1 requests on the connection one after another.
/// </summary>
public sealed class ProxiedClient : IAsyncDisposable
{
    /// <summary>The address tests list in <c>Limits:TrustedProxies</c>.</summary>
    public static readonly IPAddress ProxyAddress = IPAddress.Parse("127.0.0.2");

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private readonly Socket _socket;

    private ProxiedClient(Socket socket, Stream stream)
    {
        _socket = socket;
        Stream = stream;
    }

    /// <summary>The connection's stream; tests wrap it in TLS after the PROXY header.</summary>
    public Stream Stream { get; set; }

    /// <summary>Connects to the edge's port on 127.0.0.1 from <paramref name="from"/>.</summary>
    public static async Task<ProxiedClient> ConnectAsync(IPAddress from, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        return new ProxiedClient(socket, new NetworkStream(socket, ownsSocket: false));
    }

    /// <summary>A PROXY v2 header: command PROXY (0x21) for a TCP client at <paramref name="client"/>, or LOCAL (0x20) without one.</summary>
    public static byte[] V2Header(IPEndPoint? client, int edgePort, byte versionAndCommand = 0x21)
    {
        var header = new List<byte>(V2Signature.ToArray()) { versionAndCommand };
        if (client is null)
        {
            header.AddRange([0x00, 0x00, 0x00]);
            return header.ToArray();
        }

        var v4 = client.AddressFamily == AddressFamily.InterNetwork;
        var addresses = new byte[v4 ? 12 : 36];
        client.Address.GetAddressBytes().CopyTo(addresses, 0);
        (v4 ? IPAddress.Loopback : IPAddress.IPv6Loopback).GetAddressBytes().CopyTo(addresses, v4 ? 4 : 16);
        BinaryPrimitives.WriteUInt16BigEndian(addresses.AsSpan(v4 ? 8 : 32), (ushort)client.Port);
        BinaryPrimitives.WriteUInt16BigEndian(addresses.AsSpan(v4 ? 10 : 34), (ushort)edgePort);
        header.Add(v4 ? (byte)0x11 : (byte)0x21);
        header.Add(0);
        header.Add((byte)addresses.Length);
        header.AddRange(addresses);
        return header.ToArray();
    }

    public Task WriteAsync(byte[] bytes) => Stream.WriteAsync(bytes, TestContext.Current.CancellationToken).AsTask();

    /// <summary>Sends a request without a body and returns the answer's status, or null when the edge closed the connection instead.</summary>
    public async Task<int?> SendAsync(string method, string path, string extraHeaders = "")
    {
        var request = $"{method} {path} HTTP/1.1\r\nHost: edge.annexedge.test\r\nContent-Length: 0\r\n{extraHeaders}\r\n";
        try
        {
            await WriteAsync(Encoding.ASCII.GetBytes(request));
            return await ReadStatusAsync();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Whether the edge closes the connection (without answering anything) within 10 s.</summary>
    public async Task<bool> IsClosedByEdgeAsync()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var buffer = new byte[1024];
            return await Stream.ReadAsync(buffer, deadline.Token) == 0;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private async Task<int?> ReadStatusAsync()
    {
        var buffer = new byte[8192];
        var text = "";
        while (!text.Contains("\r\n\r\n", StringComparison.Ordinal) || !HasWholeBody(text))
        {
            var n = await Stream.ReadAsync(buffer, TestContext.Current.CancellationToken);
            if (n == 0)
            {
                return null;
            }

            text += Encoding.ASCII.GetString(buffer, 0, n);
        }

        return int.Parse(text.Split(' ')[1]);
    }

    private static bool HasWholeBody(string text)
    {
        var headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = text[..headerEnd];
        if (head.Contains("transfer-encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            return text.EndsWith("0\r\n\r\n", StringComparison.Ordinal);
        }

        var match = System.Text.RegularExpressions.Regex.Match(head, "(?i)content-length: *(\\d+)");
        return !match.Success || text.Length - headerEnd - 4 >= int.Parse(match.Groups[1].Value);
    }

    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync();
        _socket.Dispose();
    }
}
