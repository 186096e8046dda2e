using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AnnexEdge.Connections;

internal enum ProxyHeaderKind
{
    /// <summary>The data so far is the start of a PROXY header: read more.</summary>
    Incomplete,

    /// <summary>The connection does not begin with a PROXY header.</summary>
    None,

    /// <summary>A PROXY header that breaks the specification (or is longer than <see cref="ProxyHeader.MaxLength"/>).</summary>
    Invalid,

    /// <summary>The proxy speaks for itself (v2 LOCAL, v1 UNKNOWN, or an address family without an IP address): keep the peer's address.</summary>
    Local,

    /// <summary>The proxy relays a client: <see cref="ProxyHeader.Source"/> is its address.</summary>
    Proxy,
}

/// <summary>
/// A PROXY protocol header (haproxy.org/download/3.0/doc/proxy-protocol.txt): v2 (binary) or v1 (text), at the very
/// start of a connection, before TLS or HTTP. <see cref="Length"/> bytes are the header, to be consumed.
/// </summary>
internal readonly record struct ProxyHeader(ProxyHeaderKind Kind, int Length = 0, IPEndPoint? Source = null)
{
    /// <summary>Bytes that tell a v1 from a v2 header from anything else and hold v2's length; every HTTP request and TLS hello is longer.</summary>
    public const int SniffLength = 16;

    /// <summary>Longest header accepted: v2's addresses with room for a load balancer's TLVs (AWS adds tens of bytes).</summary>
    public const int MaxLength = 1024;

    private const int V1MaxLength = 107;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ReadOnlySpan<byte> V1Signature => "PROXY "u8;

    public static ProxyHeader Parse(ReadOnlySequence<byte> data)
    {
        Span<byte> head = stackalloc byte[(int)Math.Min(data.Length, MaxLength)];
        data.Slice(0, head.Length).CopyTo(head);
        return Parse(head);
    }

    public static ProxyHeader Parse(ReadOnlySpan<byte> data)
    {
        if (StartsWith(data, V2Signature) is { } v2)
        {
            return v2 ? ParseV2(data) : new(ProxyHeaderKind.Incomplete);
        }

        if (StartsWith(data, V1Signature) is { } v1)
        {
            return v1 ? ParseV1(data) : new(ProxyHeaderKind.Incomplete);
        }

        return new(ProxyHeaderKind.None);
    }

    /// <summary>True: data starts with the signature; false: data is a shorter start of it; null: neither.</summary>
    private static bool? StartsWith(ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        var common = Math.Min(data.Length, signature.Length);
        if (common == 0 || !data[..common].SequenceEqual(signature[..common]))
        {
            return null;
        }

        return common == signature.Length;
    }

    private static ProxyHeader ParseV2(ReadOnlySpan<byte> data)
    {
        if (data.Length < SniffLength)
        {
            return new(ProxyHeaderKind.Incomplete);
        }

        var version = data[12] >> 4;
        var command = data[12] & 0x0F;
        var family = data[13] >> 4;
        var transport = data[13] & 0x0F;
        var length = SniffLength + BinaryPrimitives.ReadUInt16BigEndian(data[14..]);
        if (version != 2 || command > 1 || length > MaxLength)
        {
            return new(ProxyHeaderKind.Invalid);
        }

        if (data.Length < length)
        {
            return new(ProxyHeaderKind.Incomplete);
        }

        var addresses = data[SniffLength..length];
        if (command == 0)
        {
            return new(ProxyHeaderKind.Local, length);
        }

        // A stream server has no use for a datagram's addresses; anything but TCP over IPv4 or IPv6 keeps the peer's address.
        return (family, transport) switch
        {
            (1, 1) when addresses.Length >= 12 => new(ProxyHeaderKind.Proxy, length, new IPEndPoint(new IPAddress(addresses[..4]), BinaryPrimitives.ReadUInt16BigEndian(addresses[8..]))),
            (2, 1) when addresses.Length >= 36 => new(ProxyHeaderKind.Proxy, length, new IPEndPoint(new IPAddress(addresses[..16]), BinaryPrimitives.ReadUInt16BigEndian(addresses[32..]))),
            (0, 0) or (3, 1) => new(ProxyHeaderKind.Local, length),
            _ => new(ProxyHeaderKind.Invalid),
        };
    }

    /// <summary><c>PROXY TCP4|TCP6 SOURCE DESTINATION SOURCEPORT DESTINATIONPORT\r\n</c> or <c>PROXY UNKNOWN ...\r\n</c>.</summary>
    private static ProxyHeader ParseV1(ReadOnlySpan<byte> data)
    {
        var end = data[..Math.Min(data.Length, V1MaxLength)].IndexOf("\r\n"u8);
        if (end < 0)
        {
            return new(data.Length >= V1MaxLength ? ProxyHeaderKind.Invalid : ProxyHeaderKind.Incomplete);
        }

        var length = end + 2;
        var fields = Encoding.ASCII.GetString(data[..end]).Split(' ');
        if (fields.Length >= 2 && fields[1] == "UNKNOWN")
        {
            return new(ProxyHeaderKind.Local, length);
        }

        var family = fields.Length == 6 ? fields[1] switch
        {
            "TCP4" => AddressFamily.InterNetwork,
            "TCP6" => AddressFamily.InterNetworkV6,
            _ => AddressFamily.Unknown,
        } : AddressFamily.Unknown;
        if (family == AddressFamily.Unknown
            || !IPAddress.TryParse(fields[2], out var source) || source.AddressFamily != family
            || !IPAddress.TryParse(fields[3], out var destination) || destination.AddressFamily != family
            || !ushort.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || !ushort.TryParse(fields[5], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return new(ProxyHeaderKind.Invalid);
        }

        return new(ProxyHeaderKind.Proxy, length, new IPEndPoint(source, port));
    }
}
