namespace AnnexEdge.Acme.Tests;

public sealed class PollPolicyTests
{
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(10);

    [Fact]
    public void Without_Retry_After_the_first_poll_comes_fast_and_the_wait_doubles_up_to_a_second()
    {
        var waits = Enumerable.Range(0, 8).Select(polls => PollPolicy.Delay(polls, null, Max)).ToList();

        Assert.Equal(
            new[] { 20, 40, 80, 160, 320, 640, 1000, 1000 }.Select(ms => TimeSpan.FromMilliseconds(ms)),
            waits);
    }

    [Fact]
    public void Retry_After_is_followed_whatever_the_poll_count_but_capped_at_the_longest_wait()
    {
        Assert.Equal(TimeSpan.FromSeconds(3), PollPolicy.Delay(0, TimeSpan.FromSeconds(3), Max));
        Assert.Equal(TimeSpan.FromMilliseconds(20), PollPolicy.Delay(6, TimeSpan.FromMilliseconds(20), Max));
        Assert.Equal(Max, PollPolicy.Delay(0, TimeSpan.FromMinutes(5), Max));
    }

    [Fact]
    public void Retry_After_in_the_past_polls_at_once()
    {
        Assert.Equal(TimeSpan.Zero, PollPolicy.Delay(2, TimeSpan.FromSeconds(-4), Max));
    }

    [Fact]
    public void Growth_without_Retry_After_never_exceeds_a_shorter_longest_wait()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(300), PollPolicy.Delay(30, null, TimeSpan.FromMilliseconds(300)));
    }
}
