using System.Globalization;
using System.Net;
using System.Text;

namespace AnnexEdge.Forwarding.Download;

/// <summary>The status line and header fields of an HTTP/1.1 response, as a backend sent them.</summary>
internal sealed class ResponseHead
{
    /// <summary>More than this before the blank line is not a p2phttp answer.</summary>
    public const int MaxBytes = 64 * 1024;

    private static ReadOnlySpan<byte> EndOfHead => "\r\n\r\n"u8;

    public required HttpStatusCode Status { get; init; }

    public string? Reason { get; init; }

    public required bool KeepAlive { get; init; }

    public required List<KeyValuePair<string, string>> Fields { get; init; }

    /// <summary>The body's framing: chunked, a Content-Length, or to the end of the connection (-1).</summary>
    public bool Chunked { get; private init; }

    public long ContentLength { get; private init; } = -1;

    public bool HasNoBody { get; private init; }

    /// <summary>
    /// Parses the head at the start of <paramref name="buffer"/>; returns null while it is incomplete, and the
    /// number of bytes it took through <paramref name="consumed"/>. Malformed heads throw
    /// <see cref="HttpRequestException"/> with <see cref="HttpRequestError.InvalidResponse"/>.
    /// </summary>
    public static ResponseHead? TryParse(ReadOnlySpan<byte> buffer, bool forHead, out int consumed)
    {
        consumed = 0;
        var end = buffer.IndexOf(EndOfHead);
        if (end < 0)
        {
            if (buffer.Length >= MaxBytes)
            {
                throw Invalid("the backend's response head is larger than 64 KiB");
            }

            return null;
        }

        consumed = end + EndOfHead.Length;
        var text = Encoding.Latin1.GetString(buffer[..end]);
        var lines = text.Split("\r\n");
        var status = lines[0];

        // "HTTP/1.1 200 OK": a p2phttp server speaks HTTP/1.x.
        if (status.Length < 12 || !status.StartsWith("HTTP/1.", StringComparison.Ordinal) || status[8] != ' '
            || !int.TryParse(status.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code < 100
            || (status.Length > 12 && status[12] != ' '))
        {
            throw Invalid("the backend's status line is not HTTP/1.x");
        }

        var fields = new List<KeyValuePair<string, string>>(lines.Length - 1);
        var keepAlive = status[7] == '1';
        var chunked = false;
        long contentLength = -1;
        for (var i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            var colon = line.IndexOf(':');
            if (colon <= 0 || line.AsSpan(0, colon).ContainsAny(" \t"))
            {
                throw Invalid("the backend sent a malformed header field");
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(' ', '\t');
            if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                // Only chunked is understood; anything else cannot be framed safely.
                if (!value.Equals("chunked", StringComparison.OrdinalIgnoreCase))
                {
                    throw Invalid("the backend used a transfer coding other than chunked");
                }

                chunked = true;
                continue;
            }

            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                    || (contentLength >= 0 && contentLength != length))
                {
                    throw Invalid("the backend sent an invalid Content-Length");
                }

                contentLength = length;
                continue;
            }

            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var token in value.Split(','))
                {
                    var t = token.Trim();
                    if (t.Equals("close", StringComparison.OrdinalIgnoreCase))
                    {
                        keepAlive = false;
                    }
                    else if (t.Equals("keep-alive", StringComparison.OrdinalIgnoreCase))
                    {
                        keepAlive = true;
                    }
                }

                continue;
            }

            if (name.Equals("Keep-Alive", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            fields.Add(new(name, value));
        }

        var noBody = forHead || code is < 200 or 204 or 304;
        return new ResponseHead
        {
            Status = (HttpStatusCode)code,
            Reason = status.Length > 13 ? status[13..] : null,
            // A body that ends with the connection leaves nothing to reuse.
            KeepAlive = keepAlive && (noBody || chunked || contentLength >= 0),
            Fields = fields,
            Chunked = chunked && !noBody,
            ContentLength = chunked ? -1 : contentLength,
            HasNoBody = noBody,
        };
    }

    public string? Field(string name) => Fields.FirstOrDefault(f => f.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value;

    internal static HttpRequestException Invalid(string message) => new(HttpRequestError.InvalidResponse, message);
}
