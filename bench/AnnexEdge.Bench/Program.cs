using System.Diagnostics;
using System.Globalization;

// Closed-loop load generator for one POST URL (p2phttp checkpresent):
//   [BENCH_CA_FILE=cert.pem] AnnexEdge.Bench URL CONCURRENCY SECONDS
// Other modes: `hold ...` (see Hold.cs) and `latency URL COUNT` (see Latency.cs) for bench/idle.sh, `delay ...` (see
// DelayForward.cs) for bench/multisite.sh.
// Prints "<requests per second> <errors> <all answers>": the rate and errors count answers inside the measured
// window; the last figure includes the warm-up, for CPU cost per request. Every request uses a pooled keep-alive connection, as git-annex does.
switch (args.FirstOrDefault())
{
    case "hold":
        return await AnnexEdge.Bench.Hold.RunAsync(args[1..]);
    case "latency":
        return await AnnexEdge.Bench.Latency.RunAsync(args[1..]);
    case "delay":
        return await AnnexEdge.Bench.DelayForward.RunAsync(args[1..]);
}

if (args.Length != 3
    || !int.TryParse(args[1], CultureInfo.InvariantCulture, out var concurrency) || concurrency < 1
    || !double.TryParse(args[2], CultureInfo.InvariantCulture, out var seconds) || seconds <= 0)
{
    Console.Error.WriteLine("usage: AnnexEdge.Bench URL CONCURRENCY SECONDS");
    return 2;
}

var url = new Uri(args[0]);
using var handler = new SocketsHttpHandler
{
    MaxConnectionsPerServer = concurrency,
    UseProxy = false,
    UseCookies = false,
    AutomaticDecompression = System.Net.DecompressionMethods.None,
};
// An https URL is verified against the certificate in BENCH_CA_FILE alone (the benchmark's self-signed one).
handler.SslOptions.CertificateChainPolicy = AnnexEdge.Bench.Tls.BenchPolicy();

using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };

// Connections are opened and the JIT warmed before the clock starts.
var warmup = TimeSpan.FromSeconds(Math.Min(1.0, seconds / 4));
var measured = TimeSpan.FromSeconds(seconds);
var clock = Stopwatch.StartNew();
long completed = 0;
long errors = 0;
long answered = 0;

async Task WorkerAsync()
{
    while (true)
    {
        var started = clock.Elapsed;
        if (started >= warmup + measured)
        {
            return;
        }

        var ok = false;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent([]) };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            var body = await response.Content.ReadAsStringAsync();
            ok = response.IsSuccessStatusCode && body.Contains("\"present\"", StringComparison.Ordinal);
        }
        catch (HttpRequestException)
        {
        }
        catch (TaskCanceledException)
        {
        }

        if (ok)
        {
            Interlocked.Increment(ref answered);
        }

        // Throughput = answers completed inside the window.
        var finished = clock.Elapsed;
        if (finished >= warmup && finished <= warmup + measured)
        {
            Interlocked.Increment(ref ok ? ref completed : ref errors);
        }
    }
}

await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(WorkerAsync)));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{completed / measured.TotalSeconds:F1} {errors} {answered}"));
return 0;
