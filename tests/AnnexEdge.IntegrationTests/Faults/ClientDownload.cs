using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;

namespace AnnexEdge.IntegrationTests.Faults;

/// <summary>What a client got from a GET: status, body bytes and their hash, when the first arrived, and how the read ended.</summary>
internal sealed record ClientDownload(
    HttpStatusCode? Status, long BytesRead, byte[] Sha256, TimeSpan? FirstBytes, TimeSpan Elapsed, Exception? Error, bool TimedOut)
{
    /// <summary>GETs <paramref name="url"/> as a client would, giving up (TimedOut) after <paramref name="limit"/> (30 s) so a hang fails the test.</summary>
    public static async Task<ClientDownload> GetAsync(string url, CancellationToken ct, TimeSpan? limit = null)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(limit ?? TimeSpan.FromSeconds(30));
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var clock = Stopwatch.StartNew();
        HttpStatusCode? status = null;
        TimeSpan? firstBytes = null;
        long read = 0;
        Exception? error = null;
        var timedOut = false;
        try
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            status = response.StatusCode;
            await using var body = await response.Content.ReadAsStreamAsync(deadline.Token);
            var buffer = new byte[64 * 1024];
            int n;
            while ((n = await body.ReadAsync(buffer, deadline.Token)) > 0)
            {
                firstBytes ??= clock.Elapsed;
                hash.AppendData(buffer, 0, n);
                read += n;
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            error = e;
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            error = e;
            timedOut = true;
        }

        return new ClientDownload(status, read, hash.GetHashAndReset(), firstBytes, clock.Elapsed, error, timedOut);
    }
}
