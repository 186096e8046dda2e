using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Routing;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Directories;

/// <summary>A managed p2phttp as the status page shows it.</summary>
internal sealed record ManagedProcessStatus(string Directory, int? Pid, int Port, string State, int Restarts);

/// <summary>
/// The p2phttp servers of the <c>Directories</c> with <c>Manage</c>. A running <c>p2phttp --directory</c> does not
/// reliably serve a repository made after it started (measured with 10.20250416), so when the repositories of a
/// directory change, a fresh one is started; once it answers, the next catalog swap gives the repositories its URL,
/// and the one it replaces serves its requests in flight to their end before it is stopped, so no transfer is cut.
/// </summary>
internal sealed partial class ManagedDirectories(
    BackendLoad load,
    IProxyStateLookup proxy,
    TimeProvider time,
    ILoggerFactory loggers) : IHostedService, IAsyncDisposable
{
    /// <summary>How long a fresh p2phttp has to answer before it counts as failed (it scans every repository first).</summary>
    public static readonly TimeSpan StartDeadline = TimeSpan.FromSeconds(30);

    /// <summary>Between SIGTERM and kill.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A replaced p2phttp is stopped no sooner than this after the switch, so a request that picked its backend just
    /// before the switch is counted before "nothing in flight" is believed.
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan DrainPoll = TimeSpan.FromMilliseconds(500);

    private readonly ILogger _logger = loggers.CreateLogger<ManagedDirectories>();
    private readonly Lock _gate = new();
    // One scan at a time, held across the wait for a fresh p2phttp: a semaphore, so that wait blocks no thread.
    private readonly SemaphoreSlim _serving = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<string, Managed> _directories = new(StringComparer.Ordinal);
    private readonly List<(ManagedProcess Process, DestinationState[] Destinations, TimeSpan DrainTimeout)> _replaced = [];
    private readonly List<ManagedProcess> _draining = [];
    private readonly List<Task> _drains = [];
    private int _disposed;
    private int _stopped;

    /// <summary>Every managed p2phttp, serving or draining.</summary>
    public IReadOnlyList<ManagedProcessStatus> Status()
    {
        lock (_gate)
        {
            return _directories.Values.Where(d => d.Current is not null).Select(d => d.Current!)
                .Concat(_replaced.Select(r => r.Process)).Concat(_draining)
                .Select(p => new ManagedProcessStatus(p.Directory, p.Pid, p.Port, p.State.ToString(), p.Restarts))
                .ToArray();
        }
    }

    /// <summary>
    /// The backends of each directory's repositories: the URL of its managed p2phttp, or null for a directory in
    /// external mode (its own <c>Backends</c>). Where the repositories found differ from what the running one was
    /// started with, starts a fresh one and waits for it to answer (up to <see cref="StartDeadline"/>); the one it
    /// replaces drains after <see cref="Switched"/>. One that does not answer is stopped and the running one kept;
    /// the next scan tries again, no sooner than a <see cref="RestartBackoff"/> delay.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; a fresh one being waited for is stopped.</exception>
    public async Task<IReadOnlyList<IReadOnlyList<string>?>> ServeAsync(
        IReadOnlyList<DirectoryOptions> directories, IReadOnlyList<IReadOnlyList<FoundRepository>> found, CancellationToken cancellationToken)
    {
        var backends = new IReadOnlyList<string>?[directories.Count];
        // One scan at a time; the status page (under _gate alone) is not held up while a fresh one starts.
        await _serving.WaitAsync(cancellationToken);
        try
        {
            for (var i = 0; i < directories.Count; i++)
            {
                var directory = directories[i];
                if (!directory.Manage || _stopping.IsCancellationRequested)
                {
                    continue;
                }

                Managed? managed;
                lock (_gate)
                {
                    if (!_directories.TryGetValue(directory.Path, out managed))
                    {
                        managed = new Managed();
                        _directories[directory.Path] = managed;
                    }
                }

                if (managed.Current is null || !managed.Serves.SequenceEqual(found[i]) || managed.Jobs != directory.Jobs)
                {
                    await StartFreshAsync(directory, found[i], managed, cancellationToken);
                }

                backends[i] = managed.Current is { } current ? [current.Url] : [];
            }

            // Directories no longer managed (a reload removed them or gave them Backends) are not served any more.
            lock (_gate)
            {
                foreach (var path in _directories.Keys.Except(directories.Where(d => d.Manage).Select(d => d.Path)).ToArray())
                {
                    if (_directories.Remove(path, out var gone) && gone.Current is { } process)
                    {
                        Replace(process, gone.DrainTimeout);
                    }
                }
            }
        }
        finally
        {
            _serving.Release();
        }

        return backends;
    }

    /// <summary>After the catalog swap that follows <see cref="ServeAsync"/>: the replaced p2phttp servers drain, then stop.</summary>
    public void Switched()
    {
        lock (_gate)
        {
            foreach (var (process, destinations, drainTimeout) in _replaced)
            {
                process.State = ManagedState.Draining;
                _draining.Add(process);
                _drains.Add(Task.Run(() => DrainAsync(process, destinations, drainTimeout)));
            }

            _replaced.Clear();
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After the host stopped serving (its grace period is over): every managed p2phttp is stopped.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Once: the host stops it, and disposing it stops it too (a host stopped twice must not find it disposed).
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        List<ManagedProcess> all;
        Task[] drains;
        // First: a fresh one being waited for gives up at once, and the scan waiting for it ends.
        await _stopping.CancelAsync();
        await _serving.WaitAsync(CancellationToken.None);
        try
        {
            lock (_gate)
            {
                all = [.. _directories.Values.Where(d => d.Current is not null).Select(d => d.Current!), .. _replaced.Select(r => r.Process)];
                _directories.Clear();
                _replaced.Clear();
                drains = [.. _drains];
            }
        }
        finally
        {
            _serving.Release();
        }

        await Task.WhenAll(all.Select(p => StopAsync(p, "the edge is stopping")));
        // Cancelled drains stop their own process.
        await Task.WhenAll(drains);
    }

    /// <summary>Stops whatever <see cref="StopAsync(CancellationToken)"/> did not (a host that failed to start never calls it).</summary>
    public async ValueTask DisposeAsync()
    {
        // The container disposes it once as itself and once as the hosted service.
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await StopAsync(CancellationToken.None);
        _stopping.Dispose();
    }

    private static async Task StopAsync(ManagedProcess process, string reason)
    {
        await process.StopAsync(StopGrace, reason);
        process.Dispose();
    }

    /// <summary>Under <c>_serving</c>.</summary>
    private async Task StartFreshAsync(
        DirectoryOptions directory, IReadOnlyList<FoundRepository> repositories, Managed managed, CancellationToken cancellationToken)
    {
        if (time.GetUtcNow() < managed.NotBefore)
        {
            return;
        }

        var fresh = new ManagedProcess(directory.Path, directory.Jobs, time, loggers.CreateLogger<ManagedProcess>(), RestartBackoff.Default());
        fresh.Start();
        // The scan waits, which is what should wait: the repositories get the new backend only once it answers.
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, cancellationToken);
        if (!await fresh.AnswersAsync(StartDeadline, waiting.Token))
        {
            if (waiting.IsCancellationRequested)
            {
                await StopAsync(fresh, "the edge is stopping");
                cancellationToken.ThrowIfCancellationRequested();
                return;
            }

            var delay = managed.StartBackoff.Next(TimeSpan.Zero);
            managed.NotBefore = time.GetUtcNow() + delay;
            Log.NotAnswering(_logger, directory.Path, fresh.Port, StartDeadline, delay);
            await StopAsync(fresh, "it did not answer");
            return;
        }

        managed.StartBackoff.Reset();
        lock (_gate)
        {
            if (managed.Current is { } old)
            {
                Replace(old, managed.DrainTimeout);
            }

            Log.Switched(_logger, directory.Path, repositories.Count, managed.Current?.Port, fresh.Port);
            managed.Current = fresh;
            managed.Serves = repositories;
            managed.Jobs = directory.Jobs;
            managed.DrainTimeout = directory.DrainTimeout;
        }
    }

    /// <summary>Under <c>_gate</c>, before the swap: YARP's destinations of the old URL still hold the requests to count.</summary>
    private void Replace(ManagedProcess old, TimeSpan drainTimeout)
    {
        var destinations = proxy.GetClusters()
            .SelectMany(c => c.Destinations.Values)
            .Where(d => string.Equals(d.Model.Config.Address.TrimEnd('/'), old.Url, StringComparison.Ordinal))
            .ToArray();
        _replaced.Add((old, destinations, drainTimeout));
    }

    private async Task DrainAsync(ManagedProcess process, DestinationState[] destinations, TimeSpan drainTimeout)
    {
        var started = time.GetTimestamp();
        var reason = "the edge is stopping";
        var waitingSaid = false;
        try
        {
            while (true)
            {
                await Task.Delay(DrainPoll, time, _stopping.Token);
                var elapsed = time.GetElapsedTime(started);
                if (elapsed < SettleTime)
                {
                    continue;
                }

                var inFlight = destinations.Sum(load.InFlight);
                if (inFlight == 0)
                {
                    Log.Drained(_logger, process.Directory, process.Port, elapsed);
                    reason = "replaced, and nothing in flight to it";
                    break;
                }

                if (!waitingSaid)
                {
                    Log.Draining(_logger, process.Directory, process.Port, inFlight);
                    waitingSaid = true;
                }

                if (elapsed >= drainTimeout)
                {
                    Log.DrainTimedOut(_logger, process.Directory, process.Port, drainTimeout, inFlight);
                    reason = "replaced, and its drain time is over";
                    break;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await StopAsync(process, reason);
        lock (_gate)
        {
            _draining.Remove(process);
        }
    }

    /// <summary>The managed state of one directory.</summary>
    private sealed class Managed
    {
        public ManagedProcess? Current { get; set; }

        public IReadOnlyList<FoundRepository> Serves { get; set; } = [];

        public int Jobs { get; set; }

        public TimeSpan DrainTimeout { get; set; }

        public RestartBackoff StartBackoff { get; } = RestartBackoff.Default();

        public DateTimeOffset NotBefore { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ManagedNotAnswering, LogLevel.Error, "A fresh p2phttp for {Directory} (port {Port}) did not answer within {Deadline}; the one running goes on serving, and the next scan tries again in {Delay} or later")]
        public static partial void NotAnswering(ILogger logger, string directory, int port, TimeSpan deadline, TimeSpan delay);

        [LoggerMessage(EdgeEventIds.ManagedSwitched, LogLevel.Information, "The {Repositories} repositories of {Directory} are served by a fresh p2phttp on port {Port} (was {OldPort}); the old one drains")]
        public static partial void Switched(ILogger logger, string directory, int repositories, int? oldPort, int port);

        [LoggerMessage(EdgeEventIds.ManagedDraining, LogLevel.Information, "The replaced p2phttp of {Directory} (port {Port}) still serves {InFlight} requests in flight: it is stopped once they end")]
        public static partial void Draining(ILogger logger, string directory, int port, int inFlight);

        [LoggerMessage(EdgeEventIds.ManagedDrained, LogLevel.Information, "The replaced p2phttp of {Directory} (port {Port}) has nothing in flight after {Elapsed}")]
        public static partial void Drained(ILogger logger, string directory, int port, TimeSpan elapsed);

        [LoggerMessage(EdgeEventIds.ManagedDrainTimedOut, LogLevel.Warning, "The replaced p2phttp of {Directory} (port {Port}) still had {InFlight} requests in flight after its DrainTimeout {DrainTimeout}: stopping it cuts them")]
        public static partial void DrainTimedOut(ILogger logger, string directory, int port, TimeSpan drainTimeout, int inFlight);
    }
}
