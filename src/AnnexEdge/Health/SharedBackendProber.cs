using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Health;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Health;

/// <summary>
/// The active health probe of the repositories of <c>Directories</c>. They share their directory's backends, so YARP's
/// probe per YARP cluster asked one p2phttp the same question once per repository and interval (10,000 repositories:
/// ~1,000 probes/s, bench/README.md). This sends the probe YARP would (<see cref="IProbingRequestFactory"/>, through the
/// cluster's client) once per backend address and interval, and sets the result on every destination at that address
/// through YARP's <see cref="IDestinationHealthUpdater"/>: the routing, passive checks and status page see one health.
/// </summary>
internal sealed partial class SharedBackendProber(
    RepositoryCatalog catalog,
    IProxyStateLookup proxy,
    IProbingRequestFactory probes,
    IDestinationHealthUpdater health,
    IOptions<AnnexEdgeOptions> options,
    TimeProvider time,
    ILogger<SharedBackendProber> logger) : BackgroundService
{
    private readonly Dictionary<string, SharedBackendHealth> _addresses = new(StringComparer.Ordinal);

    /// <summary>The repositories of directories, by the address of each backend they share, in catalog order.</summary>
    public static Dictionary<string, List<Repository>> Sharing(CatalogSnapshot snapshot)
    {
        var sharing = new Dictionary<string, List<Repository>>(StringComparer.Ordinal);
        foreach (var repository in snapshot.Repositories)
        {
            if (!repository.FromDirectory)
            {
                continue;
            }

            foreach (var backend in repository.Backends)
            {
                if (!sharing.TryGetValue(backend.Address, out var repositories))
                {
                    sharing[backend.Address] = repositories = [];
                }

                repositories.Add(repository);
            }
        }

        return sharing;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var checks = options.Value.HealthChecks;
        if (!checks.Enabled)
        {
            return;
        }

        // At once, then every interval: YARP probes at start too.
        using var timer = new PeriodicTimer(checks.Interval, time);
        try
        {
            do
            {
                await ProbeAllAsync(stoppingToken);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One probe of each backend address shared by repositories of directories, its result set on all of them.</summary>
    public async Task ProbeAllAsync(CancellationToken cancellationToken)
    {
        var sharing = Sharing(catalog.Current);
        foreach (var gone in _addresses.Keys.Where(a => !sharing.ContainsKey(a)).ToArray())
        {
            _addresses.Remove(gone);
        }

        foreach (var address in sharing.Keys.Where(a => !_addresses.ContainsKey(a)).ToArray())
        {
            _addresses[address] = new SharedBackendHealth();
        }

        await Task.WhenAll(sharing.Select(s => ProbeAsync(s.Key, s.Value, _addresses[s.Key], cancellationToken)));
    }

    private async Task ProbeAsync(string address, List<Repository> sharing, SharedBackendHealth state, CancellationToken cancellationToken)
    {
        var checks = options.Value.HealthChecks;
        var verdict = await ProbeOnceAsync(address, state.Choose(sharing), cancellationToken);
        if (verdict == ProbeVerdict.Stale)
        {
            state.Report(verdict, checks.FailureThreshold);
            // The repository probed went meanwhile: ask one served now, if any still shares this address.
            if (Sharing(catalog.Current).GetValueOrDefault(address) is not { } now)
            {
                return;
            }

            sharing = now;
            verdict = await ProbeOnceAsync(address, state.Choose(sharing), cancellationToken);
        }

        var was = state.Decided;
        var changed = state.Report(verdict, checks.FailureThreshold);
        if (state.Decided == DestinationHealth.Unknown)
        {
            return;
        }

        // Only destinations whose health differs are set: an idle interval with thousands of repositories sets none.
        foreach (var repository in sharing)
        {
            if (Destination(repository, address) is not ({ } cluster, { } destination))
            {
                continue;
            }

            if (destination.Health.Active != state.Decided)
            {
                health.SetActive(cluster, [new NewActiveDestinationHealth(destination, state.Decided)]);
            }

            // The backend answered after a refused connection took this repository out: it comes back now, not only
            // after the reactivation period, as the others sharing the backend are in rotation already.
            if (verdict == ProbeVerdict.Up && destination.Health.Passive == DestinationHealth.Unhealthy)
            {
                health.SetPassive(cluster, destination, DestinationHealth.Unknown, checks.ReactivationPeriod);
            }
        }

        // Said once in force for all of them.
        if (changed && state.Decided == DestinationHealth.Unhealthy)
        {
            Log.Down(logger, address, sharing.Count, checks.FailureThreshold);
        }
        else if (changed && was == DestinationHealth.Unhealthy)
        {
            Log.Up(logger, address, sharing.Count);
        }
    }

    private async Task<ProbeVerdict> ProbeOnceAsync(string address, Repository probed, CancellationToken cancellationToken)
    {
        if (Destination(probed, address) is not ({ } cluster, { } destination))
        {
            // Not in YARP's state yet: a reload puts it there before the catalog, so only a race with the next one.
            return ProbeVerdict.Stale;
        }

        int? status = null;
        using var timeout = new CancellationTokenSource(options.Value.HealthChecks.Timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using var request = probes.CreateRequest(cluster.Model, destination.Model);
            using var response = await cluster.Model.HttpClient.SendAsync(request, linked.Token);
            status = (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // No answer in time, or none at all: the failure YARP's probe counts too.
        }

        return SharedBackendHealth.Judge(status, catalog.Current.Find(probed.Uuid) is not null);
    }

    private (ClusterState? Cluster, DestinationState? Destination) Destination(Repository repository, string address)
    {
        if (!proxy.TryGetCluster(repository.YarpClusterId, out var cluster))
        {
            return (null, null);
        }

        var backend = repository.Backends.FirstOrDefault(b => b.Address == address);
        return (cluster, backend is null ? null : cluster.Destinations.GetValueOrDefault(backend.Id));
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.SharedBackendDown, LogLevel.Warning, "Backend {Address} of {Repositories} repositories of directories failed {Failures} health probes in a row: out of rotation for all of them until it answers again")]
        public static partial void Down(ILogger logger, string address, int repositories, int failures);

        [LoggerMessage(EdgeEventIds.SharedBackendUp, LogLevel.Information, "Backend {Address} of {Repositories} repositories of directories answers its health probe again: back in rotation")]
        public static partial void Up(ILogger logger, string address, int repositories);
    }
}
