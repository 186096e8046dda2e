using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AnnexEdge.Acme;

/// <summary>
/// Obtains the first certificate at start-up and renews it when due; a failure is retried with exponential backoff
/// and jitter while the working certificate keeps serving (it is never deleted).
/// </summary>
public sealed partial class AcmeRenewalService(
    AcmeCertificateManager manager,
    TimeProvider time,
    ILogger<AcmeRenewalService> logger,
    AcmeOptions options,
    IHostApplicationLifetime lifetime,
    RenewalState state)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The first order is set up while the host starts (.NET 10 runs all of ExecuteAsync in the background;
        // measured: bench/README.md, first certificate, session 15); only answering a challenge waits until Kestrel
        // has bound the listeners the CA validates against.
        var listening = WhenStartedAsync(stoppingToken);
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            DateTimeOffset next;
            try
            {
                next = await manager.RenewIfDueAsync(force: false, stoppingToken, listening);
                failures = 0;
                state.Last = new RenewalOutcome(time.GetUtcNow(), true, null);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                failures++;
                var problem = e is AcmeProblemException acme ? acme.Problem.ToString() : $"{e.GetType().Name}: {e.Message}";
                Log.OrderFailed(logger, string.Join(",", options.Domains), problem);
                state.Last = new RenewalOutcome(time.GetUtcNow(), false, problem);
                next = time.GetUtcNow() + RenewalPolicy.Backoff(failures, Random.Shared);
            }

            Log.RenewalScheduled(logger, next);
            var wait = next - time.GetUtcNow();
            try
            {
                await Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        return started.Task;
    }

    private static partial class Log
    {
        [LoggerMessage(AcmeEventIds.OrderFailed, LogLevel.Warning, "ACME order for {Domains} failed: {Problem}")]
        public static partial void OrderFailed(ILogger logger, string domains, string problem);

        [LoggerMessage(AcmeEventIds.RenewalScheduled, LogLevel.Information, "Next ACME certificate check at {When:u}")]
        public static partial void RenewalScheduled(ILogger logger, DateTimeOffset when);
    }
}
