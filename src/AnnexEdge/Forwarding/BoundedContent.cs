using System.Buffers;

namespace AnnexEdge.Forwarding;

/// <summary>Reads a backend's small JSON answer, refusing one that is larger than any real answer could be.</summary>
internal static class BoundedContent
{
    /// <summary>The body, or null when it is longer than <paramref name="maxBytes"/> or the connection broke.</summary>
    public static async Task<byte[]?> ReadAsync(HttpContent content, int maxBytes, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(maxBytes + 1);
        try
        {
            await using var stream = await content.ReadAsStreamAsync(cancellationToken);
            var total = 0;
            int read;
            while (total <= maxBytes
                && (read = await stream.ReadAsync(buffer.AsMemory(total, maxBytes + 1 - total), cancellationToken)) > 0)
            {
                total += read;
            }

            return total > maxBytes ? null : buffer.AsSpan(0, total).ToArray();
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
