using System.Collections.Frozen;
using System.Runtime.InteropServices;
using System.Text.Json;
using AnnexEdge.Configuration;
using AnnexEdge.Directories;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using AnnexEdge.Security;
using AnnexEdge.Telemetry;
using Yarp.ReverseProxy.Configuration;

namespace AnnexEdge.Hosting;

/// <summary>What a reload puts in force, and the changed settings it leaves as they run because they need a restart.</summary>
internal sealed record ReloadPlan(AnnexEdgeOptions Applied, IReadOnlyList<string> NeedRestart);

/// <summary>
/// Reloads the configuration when its file changes (after a short debounce) or the edge gets SIGHUP. A valid new
/// configuration replaces the <see cref="CatalogSnapshot"/> and YARP's routes and clusters at once; requests in
/// flight keep the snapshot they started with and YARP keeps unchanged clusters (and their destinations' health), so
/// no transfer is cut. The lock ledger, budgets and login throttles are singletons and carry over. An invalid one is
/// refused with the messages <c>check-config</c> prints, and the running configuration goes on serving.
/// The repositories of <c>Directories</c> are found again when a directory changes and every <c>RescanInterval</c>,
/// and a change of them is put in force through the same snapshot swap.
/// </summary>
internal sealed partial class ConfigReload(
    ConfigSource source,
    RepositoryCatalog catalog,
    Authenticator authenticator,
    InMemoryConfigProvider yarp,
    ManagedDirectories managed,
    TimeProvider time,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    /// <summary>Editors write a file in several steps (truncate, write, rename): the last event of a burst reloads.</summary>
    public static readonly TimeSpan Debounce = TimeSpan.FromMilliseconds(500);

    /// <summary>The settings a reload applies; any other change is logged as needing a restart.</summary>
    public static readonly FrozenSet<string> Reloadable = new[]
    {
        nameof(AnnexEdgeOptions.Repositories),
        nameof(AnnexEdgeOptions.Clusters),
        nameof(AnnexEdgeOptions.Users),
        nameof(AnnexEdgeOptions.Anonymous),
        nameof(AnnexEdgeOptions.AnonymousLocking),
        nameof(AnnexEdgeOptions.Git),
        nameof(AnnexEdgeOptions.Directories),
        nameof(AnnexEdgeOptions.Peers),
    }.ToFrozenSet(StringComparer.Ordinal);

    private readonly ILogger _logger = loggers.CreateLogger<ConfigReload>();
    // One reload or scan at a time, held while a managed directory's fresh p2phttp starts: a semaphore, so that wait
    // blocks no thread.
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly DirectoryScanCache _scanCache = new();
    private IReadOnlyDictionary<string, string?> _runningOthers = new Dictionary<string, string?>();
    private ITimer? _debounce;
    private ITimer? _rescan;
    private FileSystemWatcher? _watcher;
    private List<FileSystemWatcher> _directoryWatchers = [];
    private TimeSpan _rescanInterval = Timeout.InfiniteTimeSpan;

    // The options of the config file in force (without the repositories found in directories), and what was found.
    private AnnexEdgeOptions? _configured;
    private IReadOnlyList<FoundRepository> _served = [];
    private List<IReadOnlyList<FoundRepository>>? _found;
    private IReadOnlyList<string> _skipped = [];
    private IReadOnlyList<IReadOnlyList<string>?> _managedBackends = [];
    private PosixSignalRegistration? _sighup;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _debounce = time.CreateTimer(_ => InBackground(ReloadAsync), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _rescan = time.CreateTimer(_ => InBackground(RescanAsync), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        await _gate.WaitAsync(cancellationToken);
        try
        {
            _configured = catalog.Current.Options;
            await ApplyAsync(_configured, catalog.Current.Version, always: false, cancellationToken);
        }
        finally
        {
            _gate.Release();
        }

        HangupSignal.StopIgnoring();
        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, signal =>
        {
            // Handled: SIGHUP's default action would end the process.
            signal.Cancel = true;
            _debounce.Change(TimeSpan.Zero, Timeout.InfiniteTimeSpan);
        });
        if (source.File is not { } file)
        {
            return;
        }

        try
        {
            var configuration = new ConfigurationManager();
            EdgeConfiguration.AddConfigFile(configuration, file, source.Args);
            _runningOthers = OtherSettings(configuration);
        }
        catch (Exception e) when (e is IOException or InvalidDataException or FormatException)
        {
            // Changed since start-up already: the next reload reads it again and says what is wrong.
        }

        var path = Path.GetFullPath(file);
        try
        {
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => Soon();
            _watcher.Created += (_, _) => Soon();
            _watcher.Renamed += (_, _) => Soon();
            _watcher.Error += (_, e) => Log.WatchFailed(_logger, path, e.GetException().Message);
            _watcher.EnableRaisingEvents = true;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            Log.WatchFailed(_logger, path, e.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A reload waiting for a fresh managed p2phttp gives up, and none starts any more (each waits for _gate with
        // the cancelled token); once the one running has ended, the watchers are not disposed under it.
        await _stopping.CancelAsync();
        await _gate.WaitAsync(CancellationToken.None);
        _gate.Release();
        await DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _watcher?.Dispose();
        _rescan?.Dispose();
        await _gate.WaitAsync(CancellationToken.None);
        try
        {
            _directoryWatchers.ForEach(w => w.Dispose());
            _directoryWatchers = [];
        }
        finally
        {
            _gate.Release();
        }

        _sighup?.Dispose();
        _debounce?.Dispose();
    }

    /// <summary>Reads the config file again and puts it in force if it is valid and changed; true when it did.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the edge is stopping).</exception>
    public async Task<bool> ReloadAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (source.File is not { } file)
            {
                Log.WatchFailed(_logger, "(none)", "the edge was started without --config: there is no file to reload");
                return false;
            }

            var running = catalog.Current;
            ConfigVersion version;
            ReloadPlan plan;
            try
            {
                version = ConfigVersion.Of(file, time.GetUtcNow());
                if (version.Version == running.Version.Version)
                {
                    Log.Unchanged(_logger, version.Version);
                    return false;
                }

                var configuration = new ConfigurationManager();
                var options = EdgeConfiguration.Load(configuration, file, source.Args);
                plan = Plan(running.Options, options, _runningOthers, OtherSettings(configuration));
                // The running values of restart-only settings may not fit the new ones (a cluster needs the edge's Uuid).
                EdgeConfiguration.Validate(plan.Applied);
            }
            catch (EdgeConfigurationException e)
            {
                foreach (var error in e.Errors)
                {
                    Log.Refused(_logger, running.Version.Version, error);
                }

                return false;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Refused(_logger, running.Version.Version, "cannot read configuration: " + e.Message);
                return false;
            }

            foreach (var setting in plan.NeedRestart)
            {
                Log.NeedsRestart(_logger, setting);
            }

            _configured = plan.Applied;
            var next = (await ApplyAsync(plan.Applied, version, always: true, cancellationToken))!;
            authenticator.ReplaceUsers(next.Options);
            Log.Reloaded(_logger, next.Version.Version, next.Repositories.Count, next.Clusters.Count);
            SecurityHosting.LogAccess(loggers, next);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Scans the directories again and puts a changed set of their repositories in force; true when it did. Skipped
    /// while a scan or reload runs (one waiting for a fresh managed p2phttp may take seconds): that one scans too,
    /// and the timers' next tick comes after.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (the edge is stopping).</exception>
    public async Task<bool> RescanAsync(CancellationToken cancellationToken)
    {
        if (!await _gate.WaitAsync(TimeSpan.Zero, cancellationToken))
        {
            return false;
        }

        try
        {
            return _configured is { } configured && await ApplyAsync(configured, catalog.Current.Version, always: false, cancellationToken) is not null;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// What a timer starts runs on its own, its thread free while a fresh managed p2phttp starts; stopping the edge
    /// ends it, which is not a failure, and anything else it throws is logged rather than lost with its task.
    /// </summary>
    private void InBackground(Func<CancellationToken, Task<bool>> work) => _ = RunAsync(work, _stopping.Token);

    private async Task RunAsync(Func<CancellationToken, Task<bool>> work, CancellationToken stopping)
    {
        try
        {
            await work(stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.ReloadFailed(_logger, e);
        }
    }

    /// <summary>
    /// Builds the snapshot of <paramref name="configured"/> with the repositories its directories hold now and puts it
    /// in force, unless <paramref name="always"/> is false and they are the ones served already; the snapshot put in
    /// force, or null. Called under <c>_gate</c>.
    /// </summary>
    private async Task<CatalogSnapshot?> ApplyAsync(AnnexEdgeOptions configured, ConfigVersion version, bool always, CancellationToken cancellationToken)
    {
        var found = RepositoryDirectories.ScanAll(configured.Directories, (directory, e) =>
        {
            // A directory that cannot be listed (unmounted, say) does not empty the edge: keep what it served.
            Log.DirectoryUnreadable(_logger, directory.Path, e.Message);
            return _served.Where(r => Path.GetDirectoryName(r.Directory) == Path.TrimEndingDirectorySeparator(directory.Path)).ToArray();
        }, cache: _scanCache);

        // A managed directory whose repositories changed gets a fresh p2phttp here, answering before the swap.
        var backends = await managed.ServeAsync(configured.Directories, found, cancellationToken);
        var backendsChanged = !backends.SequenceEqual(_managedBackends, BackendsComparer.Instance);
        _managedBackends = backends;
        WatchDirectories(configured);

        // A forge at rest: a rescan that finds what the last one found builds nothing (merging 10,000 repositories
        // made ~8 MB of garbage every RescanInterval, much of it arrays on the large object heap).
        if (!always && !backendsChanged && _found is { } last && last.Count == found.Count && last.Zip(found).All(d => d.First.SequenceEqual(d.Second)))
        {
            return null;
        }

        _found = found;
        var (effective, served, skipped) = RepositoryDirectories.Merge(configured, found, backends);
        if (!skipped.SequenceEqual(_skipped))
        {
            foreach (var problem in skipped.Except(_skipped))
            {
                Log.DirectoryRepositorySkipped(_logger, problem);
            }

            _skipped = skipped;
        }

        if (!always && !backendsChanged && served.SequenceEqual(_served))
        {
            return null;
        }

        var next = new CatalogSnapshot(effective, version);
        // YARP first: a request resolved in the new snapshot finds its route; one still resolved in the old
        // snapshot to a removed repository gets 404, as it would a moment later.
        yarp.Update(YarpConfigFactory.Routes, YarpConfigFactory.Clusters(next));
        catalog.Replace(next);
        managed.Switched();

        // Said once in force, so whoever reads the event finds the repository served (or gone).
        foreach (var gone in _served.Except(served))
        {
            Log.DirectoryRepositoryRemoved(_logger, gone.Name, gone.Uuid, gone.Directory);
        }

        foreach (var added in served.Except(_served))
        {
            Log.DirectoryRepositoryAdded(_logger, added.Name, added.Uuid, added.Directory);
        }

        _served = served;
        return next;
    }

    /// <summary>A watcher per directory (its own entries only: a repository's writes inside it wake nobody) and the rescan period.</summary>
    private void WatchDirectories(AnnexEdgeOptions configured)
    {
        var paths = configured.Directories.Select(d => d.Path).ToArray();
        if (!paths.SequenceEqual(_directoryWatchers.Select(w => w.Path)))
        {
            _directoryWatchers.ForEach(w => w.Dispose());
            _directoryWatchers = [];
            foreach (var path in paths)
            {
                try
                {
                    var watcher = new FileSystemWatcher(path) { NotifyFilter = NotifyFilters.DirectoryName | NotifyFilters.FileName };
                    watcher.Created += (_, _) => RescanSoon();
                    watcher.Deleted += (_, _) => RescanSoon();
                    watcher.Renamed += (_, _) => RescanSoon();
                    watcher.EnableRaisingEvents = true;
                    _directoryWatchers.Add(watcher);
                }
                catch (Exception e) when (e is IOException or ArgumentException)
                {
                    Log.DirectoryUnreadable(_logger, path, e.Message);
                }
            }
        }

        var interval = configured.Directories.Count == 0 ? Timeout.InfiniteTimeSpan : configured.Directories.Min(d => d.RescanInterval);
        if (interval != _rescanInterval)
        {
            _rescanInterval = interval;
            _rescan?.Change(interval, interval);
        }
    }

    // A new subdirectory is only a repository once `git annex init` has written its config: scan now and once more.
    private void RescanSoon() => _rescan?.Change(Debounce, _rescanInterval);

    /// <summary>
    /// Which of <paramref name="next"/> a reload applies: the <see cref="Reloadable"/> settings; any other setting of
    /// the <c>AnnexEdge</c> section that changed keeps its running value, and it and any changed setting outside the
    /// section (listeners, <c>Kestrel</c> TLS, <c>Serilog</c>) are named as needing a restart.
    /// </summary>
    public static ReloadPlan Plan(
        AnnexEdgeOptions running,
        AnnexEdgeOptions next,
        IReadOnlyDictionary<string, string?> runningOthers,
        IReadOnlyDictionary<string, string?> nextOthers)
    {
        var needRestart = new List<string>();
        foreach (var property in typeof(AnnexEdgeOptions).GetProperties())
        {
            if (!property.CanWrite || Reloadable.Contains(property.Name))
            {
                continue;
            }

            var was = property.GetValue(running);
            if (JsonSerializer.Serialize(was, property.PropertyType) != JsonSerializer.Serialize(property.GetValue(next), property.PropertyType))
            {
                needRestart.Add(AnnexEdgeOptions.SectionName + ":" + property.Name);
                property.SetValue(next, was);
            }
        }

        needRestart.AddRange(runningOthers.Keys.Union(nextOthers.Keys, StringComparer.OrdinalIgnoreCase)
            .Where(k => runningOthers.GetValueOrDefault(k) != nextOthers.GetValueOrDefault(k))
            .Select(k => k.Split(':')[0])
            .Distinct(StringComparer.OrdinalIgnoreCase)
            .Order(StringComparer.Ordinal));
        return new ReloadPlan(next, needRestart);
    }

    private void Soon() => _debounce?.Change(Debounce, Timeout.InfiniteTimeSpan);

    /// <summary>Every setting outside the <c>AnnexEdge</c> section, flattened.</summary>
    private static Dictionary<string, string?> OtherSettings(IConfiguration configuration) =>
        configuration.AsEnumerable()
            .Where(e => e.Value is not null && !e.Key.StartsWith(AnnexEdgeOptions.SectionName, StringComparison.OrdinalIgnoreCase))
            .ToDictionary(e => e.Key, e => e.Value, StringComparer.OrdinalIgnoreCase);

    /// <summary>Compares the backends of each directory by their URLs.</summary>
    private sealed class BackendsComparer : IEqualityComparer<IReadOnlyList<string>?>
    {
        public static readonly BackendsComparer Instance = new();

        public bool Equals(IReadOnlyList<string>? x, IReadOnlyList<string>? y) =>
            x is null || y is null ? x is null && y is null : x.SequenceEqual(y, StringComparer.Ordinal);

        public int GetHashCode(IReadOnlyList<string>? obj) => obj?.Count ?? -1;
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ConfigReloaded, LogLevel.Information, "Reloaded the configuration (version {Version}): {Repositories} repositories, {Clusters} clusters")]
        public static partial void Reloaded(ILogger logger, string version, int repositories, int clusters);

        [LoggerMessage(EdgeEventIds.ConfigReloadRefused, LogLevel.Error, "Refused the changed config file; the running configuration (version {Version}) goes on serving: {Problem}")]
        public static partial void Refused(ILogger logger, string version, string problem);

        [LoggerMessage(EdgeEventIds.ConfigNeedsRestart, LogLevel.Warning, "{Setting} changed in the config file but needs a restart to take effect; its running value stays")]
        public static partial void NeedsRestart(ILogger logger, string setting);

        [LoggerMessage(EdgeEventIds.ConfigUnchanged, LogLevel.Information, "Config file unchanged (version {Version}): nothing to reload")]
        public static partial void Unchanged(ILogger logger, string version);

        [LoggerMessage(EdgeEventIds.DirectoryRepositoryAdded, LogLevel.Information, "Serving repository {Repository} ({Uuid}) found in {Directory}")]
        public static partial void DirectoryRepositoryAdded(ILogger logger, string repository, string uuid, string directory);

        [LoggerMessage(EdgeEventIds.DirectoryRepositoryRemoved, LogLevel.Information, "No longer serving repository {Repository} ({Uuid}): {Directory} is gone or no git-annex repository")]
        public static partial void DirectoryRepositoryRemoved(ILogger logger, string repository, string uuid, string directory);

        [LoggerMessage(EdgeEventIds.DirectoryRepositorySkipped, LogLevel.Warning, "Not serving a repository of a directory: {Problem}")]
        public static partial void DirectoryRepositorySkipped(ILogger logger, string problem);

        [LoggerMessage(EdgeEventIds.DirectoryUnreadable, LogLevel.Warning, "Cannot scan directory {Path}: {Reason}; its repositories found before are still served")]
        public static partial void DirectoryUnreadable(ILogger logger, string path, string reason);

        [LoggerMessage(EdgeEventIds.ConfigReloadFailed, LogLevel.Error, "A reload or rescan of the directories failed; the configuration in force goes on serving, and the next change or rescan tries again")]
        public static partial void ReloadFailed(ILogger logger, Exception exception);

        [LoggerMessage(EdgeEventIds.ConfigWatchFailed, LogLevel.Warning, "Cannot reload from config file {Path}: {Reason}")]
        public static partial void WatchFailed(ILogger logger, string path, string reason);
    }
}
