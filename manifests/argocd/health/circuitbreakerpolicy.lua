-- Argo CD health of a trading.eternal-engine.io CircuitBreakerPolicy. Level 0 is Healthy; any
-- tripped level (1..4) and a latched halt are Degraded, so the fleet shows red while capital is
-- being protected; a spec'd emergencyHalt not yet latched is Progressing. Lua 5.1 (gopher-lua).
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for governance to measure the portfolio"
  return hs
end

local status = obj.status
local level = tonumber(status.level) or 0
local drawdown = status.drawdown or "?"

if status.halted == true then
  hs.status = "Degraded"
  hs.message = "HALTED (latched): " .. (status.haltReason or "no reason recorded")
    .. "; reset with the reset annotation once the risk owner agrees"
  return hs
end

if obj.spec ~= nil and obj.spec.emergencyHalt == true then
  hs.status = "Progressing"
  hs.message = "emergencyHalt requested; waiting for governance to latch it"
  return hs
end

local generation = obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and observed ~= nil and observed < generation then
  hs.status = "Progressing"
  hs.message = "Governance has not acted on the latest spec yet"
  return hs
end

if level >= 1 then
  hs.status = "Degraded"
  hs.message = string.format("Breaker level %d in force (drawdown %s)", level, drawdown)
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = ready.message or ready.reason or "Not ready"
  return hs
end

hs.status = "Healthy"
hs.message = "Level 0 (drawdown " .. drawdown .. ")"
return hs
