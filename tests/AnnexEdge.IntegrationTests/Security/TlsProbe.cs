using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace AnnexEdge.IntegrationTests.Security;

/// <summary>
/// Sends a hand-made TLS ClientHello (RFC 5246 §7.4.1.2) and reports the server's first answer, so a server's
/// refusal of an old protocol version can be seen whatever versions the local TLS library is willing to offer.
/// </summary>
public static class TlsProbe
{
    /// <summary>The alert a server sends when it supports none of the client's versions (RFC 5246 §7.2.2).</summary>
    public const int ProtocolVersionAlert = 70;

    public readonly record struct Answer(string Kind, int Value)
    {
        public static Answer Closed => new("closed", 0);

        public static Answer ServerHello(int version) => new("ServerHello", version);

        public static Answer Alert(int description) => new("alert", description);

        public override string ToString() => $"{Kind} {Value} (0x{Value:x4})";
    }

    /// <summary>Offers exactly <paramref name="version"/> (0x0301 = TLS 1.0 … 0x0303 = TLS 1.2) with common suites.</summary>
    public static async Task<Answer> SendClientHelloAsync(int port, int version, string serverName)
    {
        using var tcp = new TcpClient();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await tcp.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = tcp.GetStream();
        await stream.WriteAsync(ClientHello(version, serverName), timeout.Token);

        var header = new byte[5];
        if (!await ReadExactlyOrEndAsync(stream, header, timeout.Token))
        {
            return Answer.Closed;
        }

        var body = new byte[Math.Min(BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3)), (ushort)6)];
        if (!await ReadExactlyOrEndAsync(stream, body, timeout.Token))
        {
            return Answer.Closed;
        }

        return header[0] switch
        {
            0x15 when body.Length >= 2 => Answer.Alert(body[1]),
            0x16 when body.Length >= 6 && body[0] == 2 => Answer.ServerHello(BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(4))),
            _ => new Answer("record type " + header[0], body.Length > 0 ? body[0] : 0),
        };
    }

    private static async Task<bool> ReadExactlyOrEndAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(buffer, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return false;
        }
    }

    private static byte[] ClientHello(int version, string serverName)
    {
        var hello = new List<byte>();
        AddUInt16(hello, version);
        hello.AddRange(RandomNumberGenerator.GetBytes(32));
        hello.Add(0); // no session id
        // ECDHE-ECDSA/RSA with AES-GCM (TLS 1.2 only) and AES-CBC-SHA (TLS 1.0+), then the renegotiation SCSV.
        int[] suites = [0xC02B, 0xC02C, 0xC02F, 0xC030, 0xC009, 0xC00A, 0xC013, 0xC014, 0x002F, 0x0035, 0x00FF];
        AddUInt16(hello, suites.Length * 2);
        foreach (var suite in suites)
        {
            AddUInt16(hello, suite);
        }

        hello.AddRange([1, 0]); // null compression only

        var extensions = new List<byte>();
        var name = Encoding.ASCII.GetBytes(serverName);
        AddExtension(extensions, 0x0000, [.. UInt16(name.Length + 3), 0, .. UInt16(name.Length), .. name]);
        AddExtension(extensions, 0x000a, [.. UInt16(6), .. UInt16(0x001d), .. UInt16(0x0017), .. UInt16(0x0018)]);
        AddExtension(extensions, 0x000b, [1, 0]);
        if (version >= 0x0303)
        {
            // Only TLS 1.2 clients may send signature_algorithms (RFC 5246 §7.4.1.4.1).
            AddExtension(extensions, 0x000d, [.. UInt16(8), .. UInt16(0x0403), .. UInt16(0x0804), .. UInt16(0x0401), .. UInt16(0x0503)]);
        }

        AddUInt16(hello, extensions.Count);
        hello.AddRange(extensions);

        var record = new List<byte> { 0x16, 0x03, 0x01 };
        AddUInt16(record, hello.Count + 4);
        record.Add(1); // client_hello
        record.AddRange([(byte)(hello.Count >> 16), (byte)(hello.Count >> 8), (byte)hello.Count]);
        record.AddRange(hello);
        return [.. record];
    }

    private static void AddExtension(List<byte> extensions, int type, byte[] data)
    {
        AddUInt16(extensions, type);
        AddUInt16(extensions, data.Length);
        extensions.AddRange(data);
    }

    private static void AddUInt16(List<byte> bytes, int value) => bytes.AddRange(UInt16(value));

    private static byte[] UInt16(int value) => [(byte)(value >> 8), (byte)value];
}
