using System.Globalization;
using System.Text;

namespace AnnexEdge.Git;

/// <summary>
/// The header block of a CGI program's answer (RFC 3875 section 6): the HTTP status from <c>Status:</c> (302 for a
/// bare <c>Location:</c>, else 200) and the other header fields, in order.
/// </summary>
internal sealed record CgiResponseHead(int StatusCode, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    /// <summary>Most bytes of header the edge reads before it gives up on a CGI answer.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>
    /// Where the header block ends in what has been read: the length of the head and the offset the body starts at
    /// (after the empty line, CRLF or LF), or null while no empty line has been read.
    /// </summary>
    public static (int HeadLength, int BodyStart)? FindEnd(ReadOnlySpan<byte> buffer)
    {
        if (buffer is [(byte)'\n', ..])
        {
            return (0, 1);
        }

        if (buffer is [(byte)'\r', (byte)'\n', ..])
        {
            return (0, 2);
        }

        for (var i = buffer.IndexOf((byte)'\n'); i >= 0 && i + 1 < buffer.Length; i = NextLineEnd(buffer, i))
        {
            // A line ends at i; the head ends when the next line is empty.
            if (buffer[i + 1] == '\n')
            {
                return (i + 1, i + 2);
            }

            if (i + 2 < buffer.Length && buffer[i + 1] == '\r' && buffer[i + 2] == '\n')
            {
                return (i + 1, i + 3);
            }
        }

        return null;
    }

    private static int NextLineEnd(ReadOnlySpan<byte> buffer, int after)
    {
        var next = buffer[(after + 1)..].IndexOf((byte)'\n');
        return next < 0 ? -1 : after + 1 + next;
    }

    /// <summary>Parses the header block (without the empty line); null when it is not a CGI header block.</summary>
    public static CgiResponseHead? Parse(ReadOnlySpan<byte> head)
    {
        var status = (int?)null;
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var raw in Encoding.Latin1.GetString(head).Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':');
            if (colon <= 0 || line.AsSpan(0, colon).ContainsAny(" \t"))
            {
                return null;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim();
            if (name.Equals("Status", StringComparison.OrdinalIgnoreCase))
            {
                // "Status: 404 Not Found": the code is the first three digits.
                var code = value.Split(' ', 2)[0];
                if (code.Length != 3 || !int.TryParse(code, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed) || parsed < 100)
                {
                    return null;
                }

                status = parsed;
            }
            else
            {
                headers.Add(new(name, value));
            }
        }

        var location = headers.Any(h => h.Key.Equals("Location", StringComparison.OrdinalIgnoreCase));
        return new CgiResponseHead(status ?? (location ? 302 : 200), headers);
    }
}
