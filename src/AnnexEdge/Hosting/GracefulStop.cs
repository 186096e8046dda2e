using System.Runtime.InteropServices;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Hosting;

/// <summary>
/// How the edge stops. The first SIGTERM (or SIGINT) stops the host: Kestrel closes its listeners at once, lets the
/// requests in flight finish and then closes their connections. Whatever is still going when
/// <c>Shutdown:GracePeriod</c> ends, or when a second signal comes, is cut: its connection is aborted, so a download
/// ends short of its <c>X-git-annex-data-length</c> with an error and never looks complete. The host's own
/// <see cref="HostOptions.ShutdownTimeout"/> is the grace period too, for hosts not run by <see cref="RunAsync"/>.
/// </summary>
internal sealed partial class GracefulStop : IDisposable
{
    private readonly CancellationTokenSource _cut;
    private readonly TimeSpan _gracePeriod;
    private readonly TimeProvider _time;
    private readonly ILogger<GracefulStop> _logger;
    private readonly PosixSignalRegistration[] _signals;
    private int _signalCount;
    private string? _cutReason;

    public GracefulStop(IOptions<AnnexEdgeOptions> options, TimeProvider time, ILogger<GracefulStop> logger)
    {
        _gracePeriod = options.Value.Shutdown.GracePeriod;
        _time = time;
        _logger = logger;
        _cut = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        // Beside the host's own handlers, which stop the host on the first signal and ignore the rest.
        _signals = [PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal), PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal)];
    }

    /// <summary>Cancelled when what is still in flight must be cut: the grace period is over, or a second signal came.</summary>
    public CancellationToken Cut => _cut.Token;

    /// <summary>Runs the edge until it is stopped, then stops it within the grace period and returns.</summary>
    public static async Task RunAsync(WebApplication app)
    {
        var stop = app.Services.GetRequiredService<GracefulStop>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStopping.Register(stopping.SetResult);
        await app.StartAsync();
        await stopping.Task;

        var started = stop._time.GetTimestamp();
        stop.BeginGracePeriod();
        await app.StopAsync(stop.Cut);
        stop.Stopped(stop._time.GetElapsedTime(started));
        await app.DisposeAsync();
    }

    /// <summary>Sets the host's shutdown timeout (which bounds Kestrel's wait for connections) to the grace period.</summary>
    public static void Configure(WebApplicationBuilder builder, ShutdownOptions options) =>
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.GracePeriod);

    public void Dispose()
    {
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        _cut.Dispose();
    }

    private void BeginGracePeriod()
    {
        Log.Stopping(_logger, _gracePeriod);
        _cut.Token.Register(() => Log.Cutting(_logger, _cutReason ?? "the grace period is over"));
        _cut.CancelAfter(_gracePeriod);
    }

    private void Stopped(TimeSpan elapsed)
    {
        if (_cut.IsCancellationRequested)
        {
            Log.StoppedAfterCut(_logger, elapsed);
        }
        else
        {
            Log.StoppedGracefully(_logger, elapsed);
        }
    }

    private void OnSignal(PosixSignalContext context)
    {
        // The default action would end the process before the cut connections and the locks are dealt with.
        context.Cancel = true;
        if (Interlocked.Increment(ref _signalCount) >= 2)
        {
            _cutReason = $"a second {context.Signal} came";
            _cut.Cancel();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.Stopping, LogLevel.Information, "Stopping: no new connections; requests in flight have {GracePeriod} to finish (a second SIGTERM cuts them at once)")]
        public static partial void Stopping(ILogger logger, TimeSpan gracePeriod);

        [LoggerMessage(EdgeEventIds.StopCutting, LogLevel.Warning, "Stopping: {Reason}, so the requests still in flight are cut (their clients see an aborted connection)")]
        public static partial void Cutting(ILogger logger, string reason);

        [LoggerMessage(EdgeEventIds.StoppedGracefully, LogLevel.Information, "Stopped after {Elapsed}: every request in flight finished")]
        public static partial void StoppedGracefully(ILogger logger, TimeSpan elapsed);

        [LoggerMessage(EdgeEventIds.StoppedAfterCut, LogLevel.Warning, "Stopped after {Elapsed}, having cut the requests still in flight")]
        public static partial void StoppedAfterCut(ILogger logger, TimeSpan elapsed);
    }
}
