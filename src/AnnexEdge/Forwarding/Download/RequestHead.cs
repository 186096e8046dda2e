using System.Buffers;
using System.Text;

namespace AnnexEdge.Forwarding.Download;

/// <summary>The HTTP/1.1 head of a content download as the edge's own connections send it.</summary>
internal static class RequestHead
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host", "Content-Length",
    };

    /// <summary>The request line and fields in a pooled buffer, which the caller returns to <see cref="ArrayPool{T}.Shared"/>.</summary>
    public static ArraySegment<byte> Encode(HttpRequestMessage request, Uri uri)
    {
        var text = new StringBuilder(512);
        text.Append("GET ").Append(uri.PathAndQuery).Append(" HTTP/1.1\r\nHost: ").Append(uri.IsDefaultPort ? uri.IdnHost : $"{uri.IdnHost}:{uri.Port}").Append("\r\n");
        foreach (var header in request.Headers.NonValidated)
        {
            if (HopByHop.Contains(header.Key))
            {
                continue;
            }

            foreach (var value in header.Value)
            {
                if (value.AsSpan().ContainsAny('\r', '\n'))
                {
                    throw new HttpRequestException(HttpRequestError.Unknown, $"header {header.Key} holds a line break");
                }

                text.Append(header.Key).Append(": ").Append(value).Append("\r\n");
            }
        }

        text.Append("\r\n");
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.Latin1.GetMaxByteCount(text.Length));
        var length = Encoding.Latin1.GetBytes(text.ToString(), buffer);
        return new ArraySegment<byte>(buffer, 0, length);
    }
}
