using System.Net;
using AnnexEdge.Connections;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Connections;

public sealed class AddressLogThrottleTests
{
    private static readonly IPAddress Client = IPAddress.Parse("203.0.113.7");

    [Fact]
    public void One_refusal_per_address_per_period_is_logged_and_the_next_counts_the_unlogged_ones()
    {
        var time = new FakeTimeProvider();
        var throttle = new AddressLogThrottle(time);

        Assert.True(throttle.ShouldLog(Client, out var first));
        Assert.False(throttle.ShouldLog(Client, out _));
        Assert.False(throttle.ShouldLog(Client, out _));
        Assert.True(throttle.ShouldLog(IPAddress.Parse("198.51.100.9"), out _));
        time.Advance(AddressLogThrottle.Period);
        Assert.True(throttle.ShouldLog(Client, out var next));

        Assert.Equal(0, first);
        Assert.Equal(2, next);
    }
}
