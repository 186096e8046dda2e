using AnnexEdge.Directories;

namespace AnnexEdge.Tests.Directories;

public sealed class RestartBackoffTests
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    [Fact]
    public void Delays_double_from_the_initial_one_up_to_the_maximum()
    {
        var backoff = new RestartBackoff(Second, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));

        var delays = Enumerable.Range(0, 6).Select(_ => backoff.Next(TimeSpan.Zero).TotalSeconds).ToArray();

        Assert.Equal([1, 2, 4, 8, 10, 10], delays);
    }

    [Fact]
    public void A_run_that_lasted_the_stable_time_starts_again_at_the_initial_delay()
    {
        var backoff = new RestartBackoff(Second, TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(1));
        backoff.Next(TimeSpan.Zero);
        backoff.Next(TimeSpan.Zero);
        backoff.Next(TimeSpan.Zero);

        Assert.Equal(Second, backoff.Next(TimeSpan.FromMinutes(1)));
        Assert.Equal(2 * Second, backoff.Next(TimeSpan.FromSeconds(59)));
    }

    [Fact]
    public void A_short_run_keeps_the_delay_growing()
    {
        var backoff = new RestartBackoff(Second, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        backoff.Next(TimeSpan.Zero);

        Assert.Equal(2 * Second, backoff.Next(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Many_failures_stay_at_the_maximum_without_overflow()
    {
        var backoff = new RestartBackoff(Second, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));

        for (var i = 0; i < 1000; i++)
        {
            Assert.InRange(backoff.Next(TimeSpan.Zero), Second, TimeSpan.FromMinutes(1));
        }

        Assert.Equal(TimeSpan.FromMinutes(1), backoff.Next(TimeSpan.Zero));
    }

    [Fact]
    public void Reset_after_a_success_starts_again_at_the_initial_delay()
    {
        var backoff = new RestartBackoff(Second, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        backoff.Next(TimeSpan.Zero);
        backoff.Next(TimeSpan.Zero);

        backoff.Reset();

        Assert.Equal(Second, backoff.Next(TimeSpan.Zero));
    }
}
