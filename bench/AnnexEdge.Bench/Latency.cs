using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace AnnexEdge.Bench;

/// <summary>
/// latency URL COUNT: COUNT sequential POSTs of URL (checkpresent) each on a fresh connection (TCP and TLS handshake
/// included), then COUNT on one keep-alive connection (its first request not counted). Prints milliseconds:
/// "FRESH-MEDIAN FRESH-P95 KEEPALIVE-MEDIAN KEEPALIVE-P95". Any answer other than 200 with "present" ends it with exit 1.
/// </summary>
internal static class Latency
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 2 || !int.TryParse(args[1], CultureInfo.InvariantCulture, out var count) || count < 1)
        {
            Console.Error.WriteLine("usage: AnnexEdge.Bench latency URL COUNT");
            return 2;
        }

        var url = new Uri(args[0]);
        var fresh = new double[count];
        for (var i = 0; i < count; i++)
        {
            using var client = NewClient();
            fresh[i] = await TimeAsync(client, url);
        }

        var kept = new double[count];
        using (var client = NewClient())
        {
            await TimeAsync(client, url);
            for (var i = 0; i < count; i++)
            {
                kept[i] = await TimeAsync(client, url);
            }
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Percentile(fresh, 0.5):F2} {Percentile(fresh, 0.95):F2} {Percentile(kept, 0.5):F2} {Percentile(kept, 0.95):F2}"));
        return 0;
    }

    private static HttpClient NewClient() =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 1,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            SslOptions = { CertificateChainPolicy = Tls.BenchPolicy() },
        })
        { Timeout = TimeSpan.FromSeconds(30) };

    private static async Task<double> TimeAsync(HttpClient client, Uri url)
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent([]) };
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        var body = await response.Content.ReadAsStringAsync();
        var elapsed = clock.Elapsed.TotalMilliseconds;
        if (!response.IsSuccessStatusCode || !body.Contains("\"present\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"checkpresent answered {(int)response.StatusCode} {body}");
        }

        return elapsed;
    }

    // Nearest rank.
    private static double Percentile(double[] values, double p)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
