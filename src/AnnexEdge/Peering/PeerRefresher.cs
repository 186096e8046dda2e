using System.Text.Json;
using System.Threading.Channels;
using AnnexEdge.Configuration;
using AnnexEdge.Forwarding;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;

namespace AnnexEdge.Peering;

/// <summary>
/// Keeps the routing table current: every <c>Routing:RefreshInterval</c>, and at once when a local node's backend goes
/// into or out of rotation, it fetches each AnnexEdge peer's advertisement for this edge
/// (<see cref="PeerEndpoints.RoutesPath"/>), probes each git-annex gateway peer (which advertises nothing) with a
/// <c>gettimestamp</c> of its gateway UUID, both through the peer's YARP cluster (so with the peer's backend
/// credentials), and recomputes the table. A peer that says its routes changed wakes it too, and when this edge's
/// best routes change it tells its AnnexEdge peers (<see cref="PeerEndpoints.ChangedPath"/>), so a change crosses each
/// hop in a few round trips instead of one <c>RefreshInterval</c>.
/// </summary>
internal sealed partial class PeerRefresher(
    PeerRoutes routes,
    RepositoryCatalog catalog,
    IProxyStateLookup proxyState,
    HealthWatch health,
    IHostApplicationLifetime lifetime,
    IOptions<AnnexEdgeOptions> options,
    TimeProvider time,
    ILogger<PeerRefresher> logger) : BackgroundService
{
    /// <summary>A larger advertisement than this is refused (a route is well under 100 bytes).</summary>
    private const int MaxAdvertisementBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Woken refreshes come at most this often: a flapping node or a chatty peer wakes the loop at will, and each
    /// refresh fetches from every peer and may tell every peer in turn. Wakes in between are one (the channel holds one).
    /// </summary>
    internal static readonly TimeSpan MinWakeGap = TimeSpan.FromSeconds(1);

    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // A peer told of this edge's first routes fetches them at once: the edge must be listening by then (hosted
        // services start before Kestrel listens; a refused fetch would leave the peer waiting a RefreshInterval).
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
        {
            try
            {
                await started.Task.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }

        health.RotationChanged += Wake;
        routes.RefreshRequested += Wake;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var began = time.GetTimestamp();

                // Local health first, so what is fetched and what is advertised next reflects it.
                var changed = routes.Recompute();
                await Task.WhenAll(catalog.Peers.Select(p => RefreshAsync(p, stoppingToken)));
                changed |= routes.Recompute();
                if (changed)
                {
                    await Task.WhenAll(catalog.Peers.Where(p => p.Advertises).Select(p => TellChangedAsync(p, stoppingToken)));
                }

                using var sleep = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                var woken = _wake.Reader.WaitToReadAsync(sleep.Token).AsTask();
                var interval = options.Value.Routing.RefreshInterval;
                var wokenEarly = await Task.WhenAny(woken, Task.Delay(interval, time, sleep.Token)) == woken;
                await sleep.CancelAsync();
                if (wokenEarly && (interval < MinWakeGap ? interval : MinWakeGap) - time.GetElapsedTime(began) is { Ticks: > 0 } rest)
                {
                    await Task.Delay(rest, time, stoppingToken);
                }

                _wake.Reader.TryRead(out _);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            health.RotationChanged -= Wake;
            routes.RefreshRequested -= Wake;
        }
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>
    /// Fetches an AnnexEdge peer's advertisement, or probes a git-annex gateway peer; tells the table which. Without
    /// the probe, a git-annex gateway's nodes would stay routed however long it is down, and every cluster write would
    /// wait for its connection to fail.
    /// </summary>
    private async Task RefreshAsync(Peer peer, CancellationToken cancellationToken)
    {
        var problem = peer.Advertises
            ? await AskAsync(
                peer,
                address => new HttpRequestMessage(HttpMethod.Get, address + PeerEndpoints.RoutesPath + "?" + PeerEndpoints.PeerParameter + "=" + catalog.GatewayUuid),
                async (response, ct) =>
                {
                    if (await BoundedContent.ReadAsync(response.Content, MaxAdvertisementBytes, ct) is not { } body || Parse(body) is not { } advertised)
                    {
                        return "sent no valid advertisement";
                    }

                    routes.Table.Advertised(peer.Name, advertised);
                    return null;
                },
                cancellationToken)
            : await AskAsync(
                peer,
                address => new HttpRequestMessage(HttpMethod.Post, BackendRequests.Uri(address, Probe(peer))),
                (_, _) =>
                {
                    routes.Table.Reached(peer.Name);
                    return Task.FromResult<string?>(null);
                },
                cancellationToken);
        if (problem is not null)
        {
            routes.Table.FetchFailed(peer.Name);
            Log.FetchFailed(logger, peer.Name, problem);
        }
    }

    /// <summary>
    /// Tells a peer that this edge's routes changed, so it fetches them now. Best effort: a peer that does not hear it
    /// (or an older AnnexEdge, which answers 404) still fetches within its RefreshInterval.
    /// </summary>
    private async Task TellChangedAsync(Peer peer, CancellationToken cancellationToken)
    {
        var problem = await AskAsync(
            peer,
            address => new HttpRequestMessage(HttpMethod.Post, address + PeerEndpoints.ChangedPath + "?" + PeerEndpoints.PeerParameter + "=" + catalog.GatewayUuid),
            (_, _) => Task.FromResult<string?>(null),
            cancellationToken);
        if (problem is not null)
        {
            Log.NotToldOfChange(logger, peer.Name, problem);
        }
    }

    /// <summary>
    /// Sends a request to the peer's backends in turn, through its YARP cluster (so with its backend credentials),
    /// until one answers with success and <paramref name="answered"/> takes the answer (returns null); otherwise the
    /// last problem. Null as well while the peer's YARP cluster is not there (a reload is being applied).
    /// </summary>
    private async Task<string?> AskAsync(
        Peer peer, Func<string, HttpRequestMessage> requestTo, Func<HttpResponseMessage, CancellationToken, Task<string?>> answered, CancellationToken cancellationToken)
    {
        if (!proxyState.TryGetCluster(peer.YarpClusterId, out var yarpCluster))
        {
            return null;
        }

        var problem = "no backend";
        foreach (var backend in peer.Backends)
        {
            using var answer = new CancellationTokenSource(options.Value.Forwarding.NodeAnswerTimeout, time);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, answer.Token);
            try
            {
                using var request = BackendRequests.Http11(requestTo(backend.Address));
                using var response = await yarpCluster.Model.HttpClient.SendAsync(request, timeout.Token);
                if (!response.IsSuccessStatusCode)
                {
                    problem = $"{backend.Address} answered {(int)response.StatusCode}";
                    continue;
                }

                if (await answered(response, timeout.Token) is not { } refused)
                {
                    return null;
                }

                problem = $"{backend.Address} {refused}";
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                problem = $"{backend.Address}: {e.Message}";
            }
        }

        return problem;
    }

    /// <summary>What git-annex would ask a gateway: its own UUID's <c>gettimestamp</c>, answered by one of its workers.</summary>
    private P2pRequest Probe(Peer peer) =>
        new() { Uuid = peer.Uuid, Version = 4, Endpoint = P2pEndpoint.GetTimestamp, ClientUuid = catalog.ClientUuid };

    /// <summary>The routes of an advertisement (<see cref="PeerEndpoints"/> writes it); null when it is not one.</summary>
    internal static IReadOnlyList<Advertisement>? Parse(byte[] body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            if (!json.RootElement.TryGetProperty("routes", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var routes = new List<Advertisement>();
            foreach (var item in list.EnumerateArray())
            {
                var uuid = item.GetProperty("uuid").GetString();
                var cost = item.GetProperty("cost").GetDouble();
                var hops = item.GetProperty("hops").GetInt32();
                string[]? clusters = item.TryGetProperty("clusters", out var memberOf) ? memberOf.EnumerateArray().Select(c => c.GetString()!).ToArray() : null;
                if (!AnnexEdgeOptionsValidator.IsUuid(uuid) || !double.IsFinite(cost) || cost < 0 || hops < 0
                    || (clusters is not null && !clusters.All(AnnexEdgeOptionsValidator.IsClusterUuid)))
                {
                    return null;
                }

                routes.Add(new Advertisement(uuid!, cost, hops, clusters is { Length: > 0 } ? clusters : null));
            }

            return routes;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.PeerFetchFailed, LogLevel.Warning, "Could not refresh peer {Peer} (fetch its routes, or probe a git-annex gateway): {Problem}")]
        public static partial void FetchFailed(ILogger logger, string peer, string problem);

        [LoggerMessage(EdgeEventIds.PeerNotToldOfChange, LogLevel.Debug, "Could not tell peer {Peer} that routes changed (it learns at its next refresh): {Problem}")]
        public static partial void NotToldOfChange(ILogger logger, string peer, string problem);
    }
}
