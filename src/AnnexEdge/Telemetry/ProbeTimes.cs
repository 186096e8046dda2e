using System.Collections.Concurrent;
using System.Diagnostics;
using AnnexEdge.Routing;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Telemetry;

/// <summary>The last active health probe of a backend: how long its answer took, when, and its status (null: none came).</summary>
internal readonly record struct ProbeResult(TimeSpan Latency, DateTimeOffset At, int? Status);

/// <summary>The active health probe's request, marked so <see cref="ProbeTimingHandler"/> times it and nothing else.</summary>
internal sealed class ProbeRequest(HttpMethod method, Uri uri, DestinationModel destination) : HttpRequestMessage(method, uri)
{
    public DestinationModel Destination { get; } = destination;
}

/// <summary>
/// The last probe of each backend, for the status page and <c>annexedge_backend_probe_latency_seconds</c>. Kept by the
/// address probed: the repositories of a directory share their backends and one probe (Health/SharedBackendProber).
/// </summary>
internal sealed class ProbeTimes
{
    private readonly ConcurrentDictionary<string, ProbeResult> _last = new(StringComparer.Ordinal);

    public ProbeTimes(RepositoryCatalog catalog)
    {
        // A directory's repositories come and go: a backend address no repository has any more is forgotten.
        catalog.Replaced += next =>
        {
            foreach (var address in _last.Keys.Where(a => !next.BackendAddresses.Contains(a)))
            {
                _last.TryRemove(address, out _);
            }
        };
    }

    public void Record(DestinationModel destination, ProbeResult result) => _last[Probed(destination)] = result;

    public ProbeResult? Last(DestinationModel destination) => _last.TryGetValue(Probed(destination), out var result) ? result : null;

    private static string Probed(DestinationModel destination) => destination.Config.Health ?? destination.Config.Address;
}

/// <summary>
/// Times the probes where they are sent, so each backend's latency is its own (YARP reports a cluster's probes
/// together, once the slowest is done). Any other request passes with one type test.
/// </summary>
internal sealed class ProbeTimingHandler(HttpMessageHandler inner, ProbeTimes times, TimeProvider time) : DelegatingHandler(inner)
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        request is ProbeRequest probe ? TimedAsync(probe, cancellationToken) : base.SendAsync(request, cancellationToken);

    private async Task<HttpResponseMessage> TimedAsync(ProbeRequest probe, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        int? status = null;
        try
        {
            var response = await base.SendAsync(probe, cancellationToken);
            status = (int)response.StatusCode;
            return response;
        }
        finally
        {
            times.Record(probe.Destination, new ProbeResult(Stopwatch.GetElapsedTime(started), time.GetUtcNow(), status));
        }
    }
}
