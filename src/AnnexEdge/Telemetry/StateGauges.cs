using AnnexEdge.Acme;
using AnnexEdge.Clusters;
using AnnexEdge.Hosting;
using AnnexEdge.Locking;
using AnnexEdge.Routing;
using Prometheus;
using Yarp.ReverseProxy;

namespace AnnexEdge.Telemetry;

/// <summary>
/// Gauges of state the edge holds anyway, set from it when <c>/metrics</c> is scraped: nothing is kept up to date
/// on the request path for them.
/// </summary>
internal sealed class StateGauges
{
    private readonly RepositoryCatalog _catalog;
    private readonly IProxyStateLookup _state;
    private readonly BackendLoad _load;
    private readonly LockLedger _locks;
    private readonly HealthWatch _health;
    private readonly ProbeTimes _probes;
    private readonly IServiceProvider _services;
    private readonly EdgeMetrics _metrics;
    private readonly LargeBlockMemoryPoolFactory _buffers;
    private readonly Gauge _up;
    private readonly Gauge _inFlight;
    private readonly Gauge _probeLatency;
    private readonly Gauge _lockSlotsUsed;
    private readonly Gauge _lockSlotsFree;
    private readonly Gauge _certificateExpiry;
    private readonly Gauge _renewalSuccess;
    private readonly Gauge _renewalTime;
    private readonly Gauge _configInfo;
    private readonly Gauge _configLoaded;
    private readonly Gauge _bufferBytes;

    public StateGauges(
        EdgeMetrics metrics,
        RepositoryCatalog catalog,
        IProxyStateLookup state,
        BackendLoad load,
        LockLedger locks,
        HealthWatch health,
        ProbeTimes probes,
        LargeBlockMemoryPoolFactory buffers,
        IServiceProvider services)
    {
        (_metrics, _catalog, _state, _load, _locks, _health, _probes, _services) = (metrics, catalog, state, load, locks, health, probes, services);
        _buffers = buffers;
        var factory = metrics.Factory;
        const string prefix = EdgeMetrics.Prefix;
        _up = factory.CreateGauge(prefix + "backend_up", "1 while a backend is in rotation (no health check calls it unhealthy), else 0.", ["repository", "backend"]);
        _inFlight = factory.CreateGauge(prefix + "backend_requests_in_flight",
            "Requests in flight to a backend: proxied, and sent by the cluster gateway itself.", ["repository", "backend"]);
        _probeLatency = factory.CreateGauge(prefix + "backend_probe_latency_seconds",
            "How long the last active health probe of a backend took (absent until one was sent).", ["repository", "backend"]);
        _lockSlotsUsed = factory.CreateGauge(prefix + "lock_slots_used", "Lock slots of a backend that clients hold through the edge.", ["repository", "backend"]);
        _lockSlotsFree = factory.CreateGauge(prefix + "lock_slots_free", "Lock slots of a backend left (MaxLocks less those used).", ["repository", "backend"]);
        _certificateExpiry = factory.CreateGauge(prefix + "certificate_expiry_timestamp_seconds",
            "When the certificate served for a domain expires, as a Unix time (absent while no certificate was obtained).", ["domain"]);
        _renewalSuccess = factory.CreateGauge(prefix + "certificate_last_renewal_success",
            "1 if the last certificate order or renewal check succeeded, 0 if it failed (absent before the first).");
        _renewalTime = factory.CreateGauge(prefix + "certificate_last_renewal_timestamp_seconds",
            "When the last certificate order or renewal check ended, as a Unix time.");
        _configInfo = factory.CreateGauge(prefix + "config_info", "Always 1; version is the hash of the config file the edge runs.", ["version"]);
        _configLoaded = factory.CreateGauge(prefix + "config_load_timestamp_seconds", "When the configuration was loaded (at start or by the last reload), as a Unix time.");
        _bufferBytes = factory.CreateGauge(prefix + "connection_buffer_bytes",
            "Memory of the 64 KiB buffers of client connections: lent (held by connections now), free (kept for reuse).", ["state"]);
    }

    public void Update()
    {
        _health.ObserveAll(_state);
        var catalog = _catalog.Current;
        // One series: the version a reload replaced goes.
        foreach (var labels in _configInfo.GetAllLabelValues().Where(l => l[0] != catalog.Version.Version).ToArray())
        {
            _configInfo.RemoveLabelled(labels);
        }

        _configInfo.WithLabels(catalog.Version.Version).Set(1);
        _configLoaded.Set(catalog.Version.LoadedAt.ToUnixTimeMilliseconds() / 1000.0);
        _bufferBytes.WithLabels("lent").Set((long)_buffers.Lent * LargeBlockMemoryPoolFactory.BlockSize);
        _bufferBytes.WithLabels("free").Set((long)_buffers.Free * LargeBlockMemoryPoolFactory.BlockSize);
        ForgetGoneBackends(catalog);
        foreach (var repository in catalog.Repositories)
        {
            if (!_state.TryGetCluster(repository.YarpClusterId, out var cluster))
            {
                continue;
            }

            foreach (var backend in repository.Backends)
            {
                if (!cluster.Destinations.TryGetValue(backend.Id, out var destination))
                {
                    continue;
                }

                _up.WithLabels(repository.Name, backend.Id).Set(NodeClient.IsInRotation(destination) ? 1 : 0);
                _inFlight.WithLabels(repository.Name, backend.Id).Set(_load.InFlight(destination));
                if (_probes.Last(destination.Model) is { } probe)
                {
                    _probeLatency.WithLabels(repository.Name, backend.Id).Set(probe.Latency.TotalSeconds);
                }

                var used = _locks.HeldBy(backend.Id);
                _lockSlotsUsed.WithLabels(repository.Name, backend.Id).Set(used);
                _lockSlotsFree.WithLabels(repository.Name, backend.Id).Set(Math.Max(0, repository.MaxLocks - used));
            }
        }

        if (_services.GetService<ServingCertificates>() is { Current: { } certificate } serving)
        {
            var expiry = new DateTimeOffset(certificate.NotAfter.ToUniversalTime()).ToUnixTimeSeconds();
            foreach (var domain in serving.Domains)
            {
                _certificateExpiry.WithLabels(domain).Set(expiry);
            }
        }

        foreach (var configured in _services.GetRequiredService<ConfiguredCertificates>().All)
        {
            foreach (var domain in configured.Domains)
            {
                _certificateExpiry.WithLabels(domain).Set(configured.NotAfter.ToUnixTimeSeconds());
            }
        }

        if (_services.GetService<RenewalState>()?.Last is { } renewal)
        {
            _renewalSuccess.Set(renewal.Succeeded ? 1 : 0);
            _renewalTime.Set(renewal.At.ToUnixTimeMilliseconds() / 1000.0);
        }
    }

    /// <summary>
    /// Series of repositories no longer served (a directory's repository removed, a reload) and of backends a
    /// repository no longer has (a managed p2phttp replaced) stop being exported, rather than keep their last values.
    /// </summary>
    private void ForgetGoneBackends(CatalogSnapshot catalog)
    {
        foreach (var gauge in (Gauge[])[_up, _inFlight, _probeLatency, _lockSlotsUsed, _lockSlotsFree])
        {
            // Labelled (repository, backend): a backend's id names its repository.
            foreach (var labels in gauge.GetAllLabelValues().Where(l => !catalog.BackendIds.Contains(l[1])).ToArray())
            {
                gauge.RemoveLabelled(labels);
            }
        }

        _metrics.ForgetRepositoriesOtherThan(catalog);
    }
}
