using AnnexEdge.Hosting;

namespace AnnexEdge.Tests.Hosting;

public sealed class SystemdSocketsTests
{
    private const int Pid = 4242;

    /// <summary>Descriptor 3 listens on port 80, 4 on 443, 5 on 8080.</summary>
    private static int? Port(int fd) => fd switch { 3 => 80, 4 => 443, 5 => 8080, _ => null };

    private static IReadOnlyList<PassedSocket> Parse(string? pid, string? fds, string? names) =>
        SystemdSockets.Parse(pid, fds, names, Pid, Port);

    [Fact]
    public void Sockets_passed_to_another_process_are_not_used()
    {
        // A parent's LISTEN_* variables, inherited: the descriptors are not ours.
        Assert.Empty(Parse("1", "2", "http:https"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("two")]
    public void No_or_unreadable_listen_fds_means_no_passed_socket(string? fds)
    {
        Assert.Empty(Parse(Pid.ToString(), fds, null));
    }

    [Fact]
    public void Descriptors_count_from_3_and_named_sockets_are_http_or_https_by_name_whatever_their_port()
    {
        // Named against their ports, so only the names can give this answer.
        Assert.Equal(
            [new PassedSocket(3, "https", true), new PassedSocket(4, "http", false)],
            Parse(Pid.ToString(), "2", "https:http"));
    }

    [Fact]
    public void Sockets_of_one_unit_share_its_name_and_are_https_on_port_443_only()
    {
        // systemd names every socket of annexedge.socket after the unit (FileDescriptorName unset).
        Assert.Equal(
            [new PassedSocket(3, "annexedge.socket", false), new PassedSocket(4, "annexedge.socket", true), new PassedSocket(5, "annexedge.socket", false)],
            Parse(Pid.ToString(), "3", "annexedge.socket:annexedge.socket:annexedge.socket"));
    }

    [Fact]
    public void Sockets_without_names_are_decided_by_port()
    {
        Assert.Equal([new PassedSocket(3, "", false), new PassedSocket(4, "", true)], Parse(Pid.ToString(), "2", null));
    }
}
