-- The engines a latched halt reached: they stay halted until the reset, even if relabelled out
-- of the policy's selector meanwhile.
ALTER TABLE policy_state ADD COLUMN halted_engines text[] NOT NULL DEFAULT '{}';
