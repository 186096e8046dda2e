using System.Text;
using System.Text.Json;
using AnnexEdge.Protocol;

namespace AnnexEdge.Tests.Protocol;

public sealed class LockAnswerTests
{
    private static bool TryParse(string json, out (bool Locked, string? LockId) answer) => TryParse(Encoding.UTF8.GetBytes(json), out answer);

    private static bool TryParse(byte[] json, out (bool Locked, string? LockId) answer)
    {
        answer = (false, null);
        if (P2pAnswer.Parse(json) is not { } parsed || !parsed.TryReadLock(out var locked, out var lockId))
        {
            return false;
        }

        answer = (locked, lockId);
        return true;
    }

    [Theory]
    [InlineData("""{"locked":true,"lockid":"abc"}""", true, "abc")]
    [InlineData("""{"lockid":"abc","locked":true}""", true, "abc")]
    [InlineData("""{"locked":false}""", false, null)]
    [InlineData("""{"locked": false, "lockid": "x"}""", false, "x")]
    [InlineData(""" { "locked" : true , "lockid" : "a\nb" , "extra": [1] } """, true, "a\nb")]
    public void Answer_of_a_backend_is_read(string json, bool locked, string? lockId)
    {
        Assert.True(TryParse(json, out var answer));
        Assert.Equal((locked, lockId), answer);
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[]")]
    [InlineData("""[{"locked":true}]""")]
    [InlineData("{}")]
    [InlineData("""{"lockid":"abc"}""")]
    [InlineData("""{"locked":"true","lockid":"abc"}""")]
    [InlineData("""{"locked":1,"lockid":"abc"}""")]
    [InlineData("""{"locked":null}""")]
    [InlineData("""{"Locked":true}""")]
    [InlineData("""{"locked":true}""")]
    [InlineData("""{"locked":true,"lockid":""}""")]
    [InlineData("""{"locked":true,"lockid":null}""")]
    [InlineData("""{"locked":true,"lockid":5}""")]
    [InlineData("""{"locked":true,"lockid":["a"]}""")]
    [InlineData("{\"locked\":true,\"lockid\":\"abc\"")]
    [InlineData("""{"locked":true,}""")]
    [InlineData("""{"locked":true} trailing""")]
    [InlineData("not json")]
    public void Anything_else_is_not_an_answer(string json)
    {
        Assert.False(TryParse(json, out var answer));
        Assert.Equal((false, (string?)null), answer);
    }

    [Fact]
    public void Granted_lock_is_written_with_its_lockid()
    {
        var json = Encoding.UTF8.GetString(P2pAnswers.Locked(true, "ae1.x.y"));
        Assert.Equal("""{"locked":true,"lockid":"ae1.x.y"}""", json);
    }

    [Fact]
    public void Refused_lock_is_written_without_lockid()
    {
        Assert.Equal("""{"locked":false}""", Encoding.UTF8.GetString(P2pAnswers.Locked(false)));
    }

    [Theory]
    [InlineData(true, "a\"b\\c\n")]
    [InlineData(false, null)]
    public void Written_answer_reads_back(bool locked, string? lockId)
    {
        var json = P2pAnswers.Locked(locked, lockId);
        Assert.True(TryParse(json, out var answer));
        Assert.Equal((locked, lockId), answer);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(lockId is null ? 1 : 2, doc.RootElement.EnumerateObject().Count());
    }
}
