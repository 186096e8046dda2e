using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using AnnexEdge.Locking;

namespace AnnexEdge.Tests.Locking;

public sealed class KeepLockedContentTests
{
    [Theory]
    [InlineData("", "Blank")]
    [InlineData("  \r", "Blank")]
    [InlineData("{\"unlock\": false}", "KeepLocked")]
    [InlineData("{\"unlock\":true}", "Unlock")]
    [InlineData(" { \"unlock\" : true } ", "Unlock")]
    [InlineData("{\"unlock\": \"true\"}", "Invalid")]
    [InlineData("{\"unlock\": 1}", "Invalid")]
    [InlineData("{\"lock\": true}", "Invalid")]
    [InlineData("[{\"unlock\": true}]", "Invalid")]
    [InlineData("true", "Invalid")]
    [InlineData("{\"unlock\": true", "Invalid")]
    [InlineData("GET / HTTP/1.1", "Invalid")]
    public void Each_line_is_classified(string line, string expected)
    {
        Assert.Equal(expected, KeepLockedContent.Classify(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line))).ToString());
    }

    [Fact]
    public async Task Client_messages_pass_until_its_unlock()
    {
        var (sent, content) = await RelayAsync("\n{\"unlock\": false}\n{\"unlock\": true}\n{\"unlock\": false}\n", complete: true);
        Assert.Equal("\n{\"unlock\": false}\n{\"unlock\": true}\n", sent);
        Assert.True(content.ClientUnlocked);
        Assert.False(content.Invalid);
    }

    [Fact]
    public async Task Client_hanging_up_makes_the_edge_unlock()
    {
        var (sent, content) = await RelayAsync("\n{\"unlock\": false}\n", complete: true);
        Assert.Equal("\n{\"unlock\": false}\n{\"unlock\": true}\n", sent);
        Assert.False(content.ClientUnlocked);
        Assert.False(content.Invalid);
    }

    [Fact]
    public async Task Client_connection_failing_makes_the_edge_unlock()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes("\n"), TestContext.Current.CancellationToken);
        pipe.Writer.Complete(new IOException("connection reset"));
        var content = new KeepLockedContent(pipe.Reader, CancellationToken.None);
        using var backend = new MemoryStream();
        await content.CopyToAsync(backend, TestContext.Current.CancellationToken);
        Assert.EndsWith("{\"unlock\": true}\n", Encoding.UTF8.GetString(backend.ToArray()), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{\"unlock\": \"maybe\"}\n{\"unlock\": false}\n")]
    [InlineData("hello\n")]
    [InlineData("{\"unlock\": false}")]
    public async Task Anything_else_never_reaches_the_backend_which_is_told_to_unlock(string body)
    {
        var (sent, content) = await RelayAsync(body, complete: true);
        Assert.True(content.Invalid);
        Assert.DoesNotContain("maybe", sent, StringComparison.Ordinal);
        Assert.DoesNotContain("hello", sent, StringComparison.Ordinal);
        Assert.EndsWith("{\"unlock\": true}\n", sent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Endless_line_is_refused()
    {
        var (sent, content) = await RelayAsync(new string('x', 5000), complete: false);
        Assert.True(content.Invalid);
        Assert.Equal("{\"unlock\": true}\n", sent);
    }

    private static async Task<(string Sent, KeepLockedContent Content)> RelayAsync(string clientBody, bool complete)
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(Encoding.UTF8.GetBytes(clientBody), TestContext.Current.CancellationToken);
        if (complete)
        {
            await pipe.Writer.CompleteAsync();
        }

        var content = new KeepLockedContent(pipe.Reader, CancellationToken.None);
        using var backend = new MemoryStream();
        await content.CopyToAsync(backend, TestContext.Current.CancellationToken);
        return (Encoding.UTF8.GetString(backend.ToArray()), content);
    }
}
