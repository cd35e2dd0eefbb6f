-- Argo CD health of a trading.eternal-engine.io Allocation: Healthy once the allocation
-- controller reports, Degraded when its Ready condition is False. Lua 5.1 (gopher-lua).
local hs = { status = "Healthy", message = "" }
if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the allocation controller"
  return hs
end
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" and c.status == "False" then
      hs.status = "Degraded"
      hs.message = c.message or c.reason or "Not ready"
      return hs
    end
  end
end
if obj.status.maxDrift ~= nil then
  hs.message = "Max drift " .. obj.status.maxDrift
end
return hs
