using AnnexEdge.Configuration;
using AnnexEdge.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Hosting;

public sealed class GracefulStopTests
{
    [Fact]
    public async Task What_is_still_stopping_is_cut_when_the_grace_period_passes_on_the_edges_clock_and_not_before()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        // A guard against a hang, not a timing: loose enough for a loaded machine.
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        var time = new FakeTimeProvider();
        var options = new AnnexEdgeOptions { Shutdown = new ShutdownOptions { GracePeriod = TimeSpan.FromMinutes(10) } };
        var transfer = new UnfinishedTransfer();
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton<IServer, IdleServer>();
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton<GracefulStop>();
        GracefulStop.Configure(builder, options.Shutdown);
        builder.Services.AddSingleton<IHostedService>(transfer);
        var app = builder.Build();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = app.Lifetime.ApplicationStarted.Register(started.SetResult);

        var running = GracefulStop.RunAsync(app);
        await started.Task.WaitAsync(deadline.Token);
        app.Lifetime.StopApplication();
        // The grace period has begun: the host is stopping the transfer with the cut as its token.
        var cut = await transfer.Stopping.WaitAsync(deadline.Token);

        // The clock's timers fire within Advance, so what they cancel is cancelled when it returns. The host's own
        // shutdown timeout (the grace period too, on the system clock) is far off.
        time.Advance(options.Shutdown.GracePeriod - TimeSpan.FromTicks(1));
        Assert.False(cut.IsCancellationRequested, "cut before the grace period passed");
        time.Advance(TimeSpan.FromTicks(1));
        Assert.True(cut.IsCancellationRequested, "not cut when the grace period passed");
        await running.WaitAsync(deadline.Token);
    }

    /// <summary>A hosted service that, like a transfer in flight, does not finish stopping until it is cut.</summary>
    private sealed class UnfinishedTransfer : IHostedService
    {
        private readonly TaskCompletionSource<CancellationToken> _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The token the host stops it with, once it does.</summary>
        public Task<CancellationToken> Stopping => _stopping.Task;

        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            _stopping.SetResult(cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>A server that listens nowhere: the host starts and stops without a port.</summary>
    private sealed class IdleServer : IServer
    {
        public IFeatureCollection Features { get; } = new FeatureCollection();

        public void Dispose()
        {
        }

        public Task StartAsync<TContext>(IHttpApplication<TContext> application, CancellationToken cancellationToken)
            where TContext : notnull => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
