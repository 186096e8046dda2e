using System.Text;
using AnnexEdge.Forwarding.Download;

namespace AnnexEdge.Tests.Forwarding;

/// <summary>What <see cref="AnswerFollower"/> makes of a connection's bytes: how much a download still owes.</summary>
public sealed class AnswerFollowerTests
{
    private const string Download = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-git-annex-data-length: 1000\r\n\r\n";

    private static byte[] Ascii(string text) => Encoding.ASCII.GetBytes(text);

    private static AnswerFollower Requested()
    {
        var follower = new AnswerFollower();
        follower.Request();
        return follower;
    }

    [Fact]
    public void A_download_owes_its_data_length_less_what_came_with_its_head()
    {
        var follower = Requested();

        follower.Received([.. Ascii(Download), .. new byte[300]]);

        Assert.Equal(700, follower.Owed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void A_head_split_anywhere_across_receives_is_followed(int piece)
    {
        var follower = Requested();
        var wire = Ascii(Download + "abcde");

        for (var at = 0; at < wire.Length; at += piece)
        {
            follower.Received(wire.AsSpan(at, Math.Min(piece, wire.Length - at)));
        }

        Assert.Equal(995, follower.Owed);
    }

    [Fact]
    public void The_field_is_found_in_any_case_and_with_spaces_around_its_value()
    {
        var follower = Requested();

        follower.Received(Ascii("HTTP/1.1 200 OK\r\nx-GIT-annex-Data-Length:   42 \r\nContent-Length: 42\r\n\r\n"));

        Assert.Equal(42, follower.Owed);
    }

    [Theory]
    [InlineData("HTTP/1.1 404 Not Found\r\nX-git-annex-data-length: 1000\r\n\r\n")]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-git-annex-data-length: many\r\n\r\n")]
    public void Other_answers_owe_nothing(string head)
    {
        var follower = Requested();

        follower.Received(Ascii(head));

        Assert.Equal(0, follower.Owed);
    }

    [Fact]
    public void What_comes_past_the_data_length_owes_nothing_more()
    {
        var follower = Requested();
        follower.Received(Ascii(Download));

        follower.Received(new byte[1200]);

        Assert.Equal(0, follower.Owed);
    }

    [Fact]
    public void Bytes_no_request_asked_for_are_not_taken_for_a_download()
    {
        var follower = new AnswerFollower();

        follower.Received(Ascii(Download));

        Assert.Equal(0, follower.Owed);
    }

    [Fact]
    public void A_new_request_starts_a_new_answer()
    {
        var follower = Requested();
        follower.Received(Ascii(Download));

        follower.Request();
        follower.Received(Ascii("HTTP/1.1 200 OK\r\nX-git-annex-data-length: 5\r\n\r\n"));

        Assert.Equal(5, follower.Owed);
    }

    [Fact]
    public void An_overlong_head_is_not_followed()
    {
        var follower = Requested();

        follower.Received(Ascii("HTTP/1.1 200 OK\r\nX-git-annex-data-length: 1000\r\nX-Filler: " + new string('a', AnswerFollower.MaxHead)));
        follower.Received(Ascii("\r\n\r\n"));

        Assert.Equal(0, follower.Owed);
    }
}
