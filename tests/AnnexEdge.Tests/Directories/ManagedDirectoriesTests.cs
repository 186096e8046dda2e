using AnnexEdge.Directories;
using AnnexEdge.Routing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace AnnexEdge.Tests.Directories;

public sealed class ManagedDirectoriesTests
{
    [Fact]
    public async Task A_host_stopped_again_after_it_was_disposed_finds_the_managed_directories_stopped_not_failing()
    {
        var managed = new ManagedDirectories(new BackendLoad(), new Hosting.ConfigReloadTests.NoProxyState(), new FakeTimeProvider(), NullLoggerFactory.Instance);
        await managed.StopAsync(TestContext.Current.CancellationToken);
        await managed.DisposeAsync();
        await managed.DisposeAsync();

        await managed.StopAsync(TestContext.Current.CancellationToken);
        Assert.Empty(managed.Status());
    }
}
