using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace AnnexEdge.Acme.Hosting;

/// <summary>
/// The two things tls-alpn-01 needs from a TLS ClientHello that .NET's handshake callbacks do not expose together:
/// the server name (SNI) and whether <c>acme-tls/1</c> is offered by ALPN (RFC 8737 §3).
/// </summary>
public sealed record ClientHello(string? ServerName, IReadOnlyList<string> ApplicationProtocols)
{
    public const string AcmeTls1 = "acme-tls/1";

    public bool OffersAcmeTls => ApplicationProtocols.Contains(AcmeTls1, StringComparer.Ordinal);

    /// <summary>Parses TLS records holding a ClientHello; null for anything else or anything truncated.</summary>
    public static ClientHello? Parse(ReadOnlySequence<byte> records)
    {
        var bytes = records.ToArray();
        var handshake = new List<byte>();
        var at = 0;
        // A ClientHello may span several handshake records; collect their fragments.
        while (at + 5 <= bytes.Length && bytes[at] == 22)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(at + 3));
            if (at + 5 + length > bytes.Length)
            {
                return null;
            }

            handshake.AddRange(bytes.AsSpan(at + 5, length));
            at += 5 + length;
        }

        return ParseHandshake(handshake.ToArray());
    }

    private static ClientHello? ParseHandshake(ReadOnlySpan<byte> message)
    {
        if (message.Length < 4 || message[0] != 1)
        {
            return null;
        }

        var length = (message[1] << 16) | (message[2] << 8) | message[3];
        if (message.Length < 4 + length)
        {
            return null;
        }

        var body = message.Slice(4, length);
        var at = 2 + 32; // legacy_version, random
        if (!Skip(body, ref at, 1) || !Skip(body, ref at, 2) || !Skip(body, ref at, 1) || at + 2 > body.Length)
        {
            return null; // session id, cipher suites, compression methods
        }

        var extensionsEnd = at + 2 + BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        at += 2;
        if (extensionsEnd > body.Length)
        {
            return null;
        }

        string? serverName = null;
        var protocols = new List<string>();
        while (at + 4 <= extensionsEnd)
        {
            var type = BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
            var size = BinaryPrimitives.ReadUInt16BigEndian(body[(at + 2)..]);
            at += 4;
            if (at + size > extensionsEnd)
            {
                return null;
            }

            var data = body.Slice(at, size);
            at += size;
            if (type == 0 && data.Length >= 5 && data[2] == 0)
            {
                // server_name_list: list length, name type 0 (host_name), name length, name
                var nameLength = BinaryPrimitives.ReadUInt16BigEndian(data[3..]);
                if (5 + nameLength <= data.Length)
                {
                    serverName = Encoding.ASCII.GetString(data.Slice(5, nameLength));
                }
            }
            else if (type == 16 && data.Length >= 2)
            {
                var listEnd = Math.Min(data.Length, 2 + BinaryPrimitives.ReadUInt16BigEndian(data));
                for (var p = 2; p < listEnd && p + 1 + data[p] <= listEnd; p += 1 + data[p])
                {
                    protocols.Add(Encoding.ASCII.GetString(data.Slice(p + 1, data[p])));
                }
            }
        }

        return new ClientHello(serverName, protocols);
    }

    /// <summary>Skips a vector with a length prefix of <paramref name="lengthBytes"/> bytes.</summary>
    private static bool Skip(ReadOnlySpan<byte> body, ref int at, int lengthBytes)
    {
        if (at + lengthBytes > body.Length)
        {
            return false;
        }

        var length = lengthBytes == 1 ? body[at] : BinaryPrimitives.ReadUInt16BigEndian(body[at..]);
        at += lengthBytes + length;
        return at <= body.Length;
    }
}
